package httpapi_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/omsonline/oms/command/application"
)

// russian reports whether s is Russian text rather than English: it has
// Cyrillic letters and no run of Latin words.
func russian(s string) bool {
	cyr := strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0
	return cyr && !strings.Contains(s, "multipart: ") && !strings.Contains(s, "Too Large")
}

// TestServerErrorsSpeakRussian: errors fasthttp and Fiber raise themselves,
// before any handler (a broken multipart body, a query string past the
// header buffer), answer with a problem whose "ru" is Russian, not their
// English message.
func TestServerErrorsSpeakRussian(t *testing.T) {
	s := newStack(t, application.Config{})
	// Over a real connection: app.Test hands such errors back to the
	// caller instead of to the server's error handler.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.app.Listener(ln)
	t.Cleanup(func() { s.app.Shutdown() })
	base := "http://" + ln.Addr().String()

	broken, _ := http.NewRequest(http.MethodPost, base+"/api/v1/documents", strings.NewReader("garbage"))
	broken.Header.Set("Content-Type", "multipart/form-data; boundary=xx")
	long, _ := http.NewRequest(http.MethodGet, base+"/api/v1/documents/x?q="+strings.Repeat("a", 8<<10), nil)

	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"malformed multipart", broken, 400, "malformed_multipart"},
		{"query string too long", long, 431, "headers_too_large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.Header.Set("X-Test-Subject", applicant.id)
			c.req.Header.Set("X-Test-Role", applicant.role)
			resp, err := http.DefaultClient.Do(c.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			r := response{status: resp.StatusCode, header: resp.Header, body: body}
			wantStatus(t, r, c.status)
			p := r.problem(t)
			if p.Code != c.code || p.Type != "urn:oms:problem:"+c.code {
				t.Errorf("code %q type %q, want %s: %s", p.Code, p.Type, c.code, r.body)
			}
			if !russian(p.Detail.RU) || p.Detail.EN == "" || p.Detail.RU == p.Detail.EN {
				t.Errorf("detail is not in Russian and English: %+v", p.Detail)
			}
		})
	}
}
