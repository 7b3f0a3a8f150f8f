package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// zeroes is a body of n bytes that costs its sender no memory.
type zeroes struct{ left int64 }

func (z *zeroes) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

// Nobody who is not signed in makes omsd hold a body in memory (review QA:
// a POST to a page that takes none, answered 405, and a sign-in form over
// its bound, answered 413, each read the whole body first, 1 GB from one
// request): eight 10 MB bodies at once to each allocate a fraction of one,
// and a body without a declared length is refused before it is read.
func TestRefusedPageBodiesAreNotRead(t *testing.T) {
	a, _ := startApp(t)
	base := "http://" + a.HTTPAddr()
	const n, size = 8, 10 << 20
	for _, tc := range []struct {
		path   string
		status int
	}{{"/cabinet", 405}, {"/signin/code", 413}} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", base+tc.path, &zeroes{left: size})
				req.ContentLength = size
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					errs <- fmt.Errorf("%d, want %d", resp.StatusCode, tc.status)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("POST %s: %v", tc.path, err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > size {
			t.Errorf("POST %s: %d refused bodies of %d MB allocated %d MB", tc.path, n, size>>20, got>>20)
		}
	}
	// In one write, so that the refusal, not a reset of a connection still
	// being written, is what the test reads.
	conn, err := net.Dial("tcp", a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "next=%2Fcabinet"
	if _, err := fmt.Fprintf(conn, "POST /cabinet HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 411 || !strings.Contains(string(b), "Content-Length") || !strings.Contains(string(b), "length_required") {
		t.Fatalf("a chunked body: %d %s", resp.StatusCode, b)
	}
}
