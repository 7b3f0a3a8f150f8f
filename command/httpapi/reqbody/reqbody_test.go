package reqbody_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/httpapi/reqbody"
)

const limit = 11 << 20

// serve runs a Fiber app configured as omsd's (bodies streamed, Guard
// first) with the test's routes, on loopback.
func serve(t *testing.T, routes func(app *fiber.App)) string {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true, StreamRequestBody: true, DisablePreParseMultipartForm: true, BodyLimit: limit})
	app.Use(reqbody.Guard(limit, func(c *fiber.Ctx, why error) error {
		if errors.Is(why, reqbody.ErrNoLength) {
			return c.Status(fiber.StatusLengthRequired).SendString("length required")
		}
		return c.Status(fiber.StatusRequestEntityTooLarge).SendString("too large")
	}))
	routes(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// zeros is a body of n bytes that costs its sender no memory.
func zeros(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func post(t *testing.T, c *http.Client, url string, body io.Reader, size int64) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size // -1: chunked
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s (%d bytes): %v", url, size, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A handler that refuses without reading (a request without a token) does
// not make the server hold the body: eight 10 MB bodies sent at once
// allocate far less than one of them would (read ahead, each connection
// holds a buffer of its body's size), every client gets the refusal
// rather than a reset connection, and the connections serve the next
// request.
func TestUnreadBodiesCostNoMemory(t *testing.T) {
	url := serve(t, func(app *fiber.App) {
		app.Post("/refuse", func(c *fiber.Ctx) error { return c.Status(fiber.StatusUnauthorized).SendString("sign in") })
		app.Post("/small", func(c *fiber.Ctx) error {
			ok, err := reqbody.Load(c, 64)
			if err != nil || !ok {
				return c.Status(fiber.StatusRequestEntityTooLarge).SendString("too large")
			}
			return c.SendString(string(c.Body()))
		})
	})
	const n, size = 8, 10 << 20
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", url+"/refuse", zeros(size))
			req.ContentLength = size
			resp, err := c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 401 || string(b) != "sign in" {
				errs <- fmt.Errorf("%d %q", resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a refused body: %v", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > size {
		t.Errorf("%d refused bodies of %d MB allocated %d MB; read ahead, each allocates at least its size", n, size>>20, got>>20)
	}
	// The same connections, still in step.
	for i := 0; i < n; i++ {
		if code, body := post(t, c, url+"/small", strings.NewReader("hello"), 5); code != 200 || body != "hello" {
			t.Fatalf("after the refusals: %d %q", code, body)
		}
	}
}

// Load reads a body into memory only up to its bound: a longer one,
// declared or chunked, is refused after at most that much.
func TestLoadBounds(t *testing.T) {
	url := serve(t, func(app *fiber.App) {
		app.Post("/load", func(c *fiber.Ctx) error {
			ok, err := reqbody.Load(c, 1000)
			if err != nil {
				return err
			}
			if !ok {
				return c.Status(fiber.StatusRequestEntityTooLarge).SendString("too large")
			}
			// Read as without streaming, form values included.
			return c.SendString(fmt.Sprintf("%d %s", len(c.Body()), c.FormValue("a")))
		})
	})
	c := &http.Client{}
	for _, tc := range []struct {
		name string
		body string
		size int64
		code int
		want string
	}{
		{"declared, within", "a=1&b=2", 7, 200, "7 1"},
		{"declared, at the bound", "a=" + strings.Repeat("x", 998), 1000, 200, "1000 " + strings.Repeat("x", 998)},
		{"declared, over", strings.Repeat("x", 1001), 1001, 413, "too large"},
	} {
		req, _ := http.NewRequest("POST", url+"/load", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.ContentLength = tc.size
		if tc.size < 0 {
			req.Body = io.NopCloser(strings.NewReader(tc.body)) // no length known: chunked
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.want {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, b, tc.code, tc.want)
		}
	}
}

// Reader hands the body over as it arrives and fails past its bound.
func TestReaderBounds(t *testing.T) {
	url := serve(t, func(app *fiber.App) {
		app.Post("/read", func(c *fiber.Ctx) error {
			n, err := io.Copy(io.Discard, reqbody.Reader(c, 4<<20))
			if errors.Is(err, reqbody.ErrTooLarge) {
				return c.Status(fiber.StatusRequestEntityTooLarge).SendString(fmt.Sprint(n))
			}
			if err != nil {
				return err
			}
			return c.SendString(fmt.Sprint(n))
		})
	})
	c := &http.Client{}
	if code, body := post(t, c, url+"/read", zeros(4<<20), 4<<20); code != 200 || body != fmt.Sprint(4<<20) {
		t.Errorf("at the bound: %d %s", code, body)
	}
	if code, body := post(t, c, url+"/read", zeros(4<<20+1), 4<<20+1); code != 413 || body != fmt.Sprint(4<<20) {
		t.Errorf("a byte over: %d %s", code, body)
	}
}

// A body declared longer than the app takes is refused before it is read,
// and the connection is closed rather than read through.
func TestGuardRefusesADeclaredLengthOverTheLimit(t *testing.T) {
	url := serve(t, func(app *fiber.App) {
		app.Post("/any", func(c *fiber.Ctx) error { return c.SendString(fmt.Sprint(len(c.Body()))) })
	})
	// fasthttp reads the first 8 KB of a body before any handler runs.
	refused(t, url, fmt.Sprintf("POST /any HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", limit+1, strings.Repeat("x", 16<<10)),
		413, "too large")
}

// refused sends request as it is, in one write, and checks that the
// answer is status with body and closes the connection. One write: the
// refusal, not a reset of a connection still being written, is what the
// test reads.
func refused(t *testing.T, url, request string, status int, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || string(b) != body || !resp.Close {
		t.Fatalf("%d %q close=%v, want %d %q and the connection closed", resp.StatusCode, b, resp.Close, status, body)
	}
}

// A chunked body has no length to check against, and fasthttp reads one
// without any bound for whoever asks for the body: a handler that reads
// the form of a request it refuses (an error page) read 300 MB of it
// into memory (review QA). The Guard refuses it before anyone reads it,
// and closes the connection.
func TestGuardRefusesABodyWithoutALength(t *testing.T) {
	url := serve(t, func(app *fiber.App) {
		app.Post("/form", func(c *fiber.Ctx) error {
			return c.Status(fiber.StatusMethodNotAllowed).SendString(c.FormValue("next"))
		})
	})
	chunk := strings.Repeat("x", 16<<10)
	refused(t, url, fmt.Sprintf("POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\nnext=%s\r\n0\r\n\r\n", len(chunk)+5, chunk),
		411, "length required")
}
