package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/config"
)

func TestDebugListener(t *testing.T) {
	a, _ := startApp(t)
	if a.DebugAddr() != "" {
		t.Fatalf("pprof listens by default on %s", a.DebugAddr())
	}
	a, _ = startWithLog(t, slog.DiscardHandler, func(c *config.Config) { c.DebugAddr = "127.0.0.1:0" })
	if !strings.HasPrefix(a.DebugAddr(), "127.0.0.1:") {
		t.Fatalf("debug addr %q", a.DebugAddr())
	}
	resp, err := http.Get("http://" + a.DebugAddr() + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("heap profile: %d", resp.StatusCode)
	}
	if code, _ := call(t, a, "GET", "/debug/pprof/", "", ""); code != 404 && code != 401 {
		t.Fatalf("pprof must not be on the API listener: %d", code)
	}
}

func TestDebugAddrDefaultsToLoopback(t *testing.T) {
	c := config.Defaults()
	c.DataDir = t.TempDir()
	c.DebugAddr = ":6060"
	if err := c.Validate(); err != nil || c.DebugAddr != "127.0.0.1:6060" {
		t.Fatalf("%q %v", c.DebugAddr, err)
	}
	c.DebugAddr = "6061"
	if err := c.Validate(); err != nil || c.DebugAddr != "127.0.0.1:6061" {
		t.Fatalf("%q %v", c.DebugAddr, err)
	}
	c.DebugAddr = "nonsense:port"
	if err := c.Validate(); err == nil {
		t.Fatal("a bad address is accepted")
	}
}
