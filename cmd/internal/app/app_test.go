package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

// startApp runs a whole omsd on embedded stores in a temp dir.
func startApp(t *testing.T) (*app.App, config.Config) { return startAppB(t) }

func startAppB(t testing.TB) (*app.App, config.Config) {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a, cfg
}

func token(t *testing.T, cfg config.Config, role, subject string) string {
	t.Helper()
	key, err := authn.DevKey(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.IssueDev(key, subject, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func call(t *testing.T, a *app.App, method, path, tok, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestReadyAndAuth(t *testing.T) {
	a, cfg := startApp(t)
	if code, body := call(t, a, "GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	code, body := call(t, a, "GET", "/api/v1/cabinet", "", "")
	if code != 401 || !strings.Contains(string(body), "Sign-in required") || !strings.Contains(string(body), "Требуется вход") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, _ := call(t, a, "GET", "/api/v1/cabinet", "not-a-jwt", ""); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	code, body = call(t, a, "GET", "/api/v1/cabinet", token(t, cfg, "applicant", "nobody"), "")
	if code != 200 || !strings.Contains(string(body), `"applications":[]`) {
		t.Fatalf("empty cabinet: %d %s", code, body)
	}
	if code, _ := call(t, a, "GET", "/api/v1/cabinet?after=abc", token(t, cfg, "applicant", "nobody"), ""); code != 400 {
		t.Fatalf("bad after: %d", code)
	}
	if code, _ := call(t, a, "GET", "/api/v1/cabinet", token(t, cfg, "reviewer", "r1"), ""); code != 403 {
		t.Fatalf("reviewer cabinet: %d", code)
	}
}

// cabinetAfter reads the cabinet once the projection has passed pos.
func cabinetAfter(t *testing.T, a *app.App, tok string, pos uint64, query string) map[string]any {
	t.Helper()
	code, body := call(t, a, "GET", fmt.Sprintf("/api/v1/cabinet?after=%d%s", pos, query), tok, "")
	if code != 200 {
		t.Fatalf("cabinet: %d %s", code, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// /readyz answers from the stores, not from the process: with its event
// store gone, a node tells the load balancer it cannot serve, answers
// each later probe at once, logs the outage when it starts and when it
// ends rather than on every probe, and is ready again soon after the store
// is back.
func TestReadyzFailsWithoutTheEventStore(t *testing.T) {
	dir := t.TempDir()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	t.Cleanup(func() { srv.Close() })
	logs := &syncBuffer{}
	a, _ := startWithLog(t, slog.NewJSONHandler(logs, nil), func(c *config.Config) { c.ESDBURL = esdbtest.URL(srv) })
	if code, body := call(t, a, "GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("readyz with the store up: %d %s", code, body)
	}
	srv.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := call(t, a, "GET", "/readyz", "", "")
		if code == 503 && strings.Contains(string(body), "not ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz with the event store gone: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Later probes, each past the last answer's time to live so that each
	// starts a probe of the store, answer at once instead of waiting out
	// the probe's timeout (2s) every time.
	for i := range 3 {
		time.Sleep(1100 * time.Millisecond) // past the 1s an answer stands
		start := time.Now()
		if code, _ := call(t, a, "GET", "/readyz", "", ""); code != 503 || time.Since(start) > time.Second {
			t.Fatalf("readyz %d during the outage: %d after %s", i, code, time.Since(start))
		}
	}
	if code, _ := call(t, a, "GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz: %d; the process is still up", code)
	}
	if n := strings.Count(logs.String(), `"msg":"not ready"`); n != 1 {
		t.Fatalf("%d \"not ready\" lines for one outage, want 1:\n%s", n, logs.String())
	}

	srv, err = esdbserver.Start(esdbserver.Options{Addr: addr, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, _ := call(t, a, "GET", "/readyz", "", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 30s after the event store came back: %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), `"msg":"ready"`); n != 1 {
		t.Fatalf("%d \"ready\" lines after the outage, want 1", n)
	}
}

// A read store that cannot be opened is a start-up error that says why,
// not a panic over it: the failed open's nil store was closed on the way
// out. The MongoDB address refuses at once (port 1 on the loopback).
func TestStartReportsAReadStoreThatWillNotOpen(t *testing.T) {
	for name, tune := range map[string]func(*config.Config){
		"sqlite": func(c *config.Config) { c.ReadModelsDir = "/proc/no-such-dir/readmodels" },
		"mongodb": func(c *config.Config) {
			c.MongoURI = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.HTTPAddr = "127.0.0.1:0"
			cfg.ESDBListen = "127.0.0.1:0"
			tune(&cfg)
			a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				_ = a.Close()
				t.Fatal("started")
			}
			t.Log(err)
		})
	}
}

// A node started with another master key than the vault's keys were
// wrapped with refuses to start: serving, it read no one's data and
// wrapped new applicants' keys under the wrong master key, which left the
// vault unreadable under either.
func TestStartRefusesAnotherMasterKey(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	start := func(key byte) (*app.App, error) {
		c := cfg
		c.MasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{key}, 32))
		return app.Start(context.Background(), c, slog.New(slog.DiscardHandler))
	}
	a, err := start(1)
	if err != nil {
		t.Fatal(err)
	}
	// An empty vault has nothing to check: any key starts it.
	if _, err := a.Keys().SealBytes(context.Background(), "alice", "scan", []byte("personal")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.MasterKey = "notbase64!!"
	if b, err := app.Start(context.Background(), bad, slog.New(slog.DiscardHandler)); err == nil {
		_ = b.Close()
		t.Fatal("started with a malformed master key")
	} else if !strings.Contains(err.Error(), "мастер-ключ") || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("the malformed key's refusal: %v", err)
	}
	if b, err := start(2); err == nil {
		_ = b.Close()
		t.Fatal("started with another master key")
	} else if !strings.Contains(err.Error(), "OMS_MASTER_KEY") || !strings.Contains(err.Error(), "мастер-ключ") {
		t.Fatalf("the refusal does not say what to set: %v", err)
	}
	a, err = start(1)
	if err != nil {
		t.Fatalf("the right key again: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// An event store that does not answer at start is an error that names it
// (without its password), within OMS_ESDB_CONNECT_TIMEOUT: the client now
// waits for an absent store for as long as a call lets it.
func TestStartReportsAnAbsentEventStore(t *testing.T) {
	addr := strings.TrimSuffix(strings.TrimPrefix(esdbtest.AbsentURL(t), "esdb://"), "?tls=false")
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBURL = "esdb://admin:secret@" + addr + "?tls=false"
	cfg.ESDBConnectTimeout = 500 * time.Millisecond
	t0 := time.Now()
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = a.Close()
		t.Fatal("started without an event store")
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || strings.Contains(msg, "secret") || !strings.Contains(msg, "OMS_ESDB_CONNECT_TIMEOUT") {
		t.Errorf("the refusal: %v", err)
	}
}

// Two omsd on one data dir share a node id, and so both held the
// projection lease in turn; with an external event store nothing stopped
// the second. It is refused, and the dir is free again once the first
// stops.
func TestOneNodePerDataDir(t *testing.T) {
	a, cfg := startApp(t)
	second := cfg
	second.HTTPAddr = "127.0.0.1:0"
	second.ESDBURL = a.EmbeddedStoreURL()
	b, err := app.Start(context.Background(), second, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = b.Close()
		t.Fatal("a second omsd started on the same data dir")
	}
	if !strings.Contains(err.Error(), "OMS_DATA_DIR") || !strings.Contains(err.Error(), "каталог данных") {
		t.Fatalf("the refusal: %v", err)
	}
}
