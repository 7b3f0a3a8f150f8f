package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/config"
)

const childDirEnv = "OMS_APP_CRASH_CHILD_DIR"

// runChild is what the re-executed test binary does: run omsd on a data dir
// until it is killed.
func runChild(dir string) {
	cfg := config.Defaults()
	// The parent passes settings as OMS_* variables, as an operator would.
	if err := cfg.Register(flag.NewFlagSet("child", flag.ContinueOnError)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	cfg.DataDir, cfg.HTTPAddr, cfg.ESDBListen = dir, "127.0.0.1:0", "127.0.0.1:0"
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	fmt.Println("HTTP", a.HTTPAddr())
	select {}
}

func startChild(t *testing.T, dir string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childDirEnv+"="+dir), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child did not start: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "HTTP ")
	if !ok {
		cmd.Process.Kill()
		t.Fatalf("child said %q", line)
	}
	return cmd, addr
}

var logicalCollections = []string{"cabinet", "cabinet_views", "queue", "queue_views", "history", "applications", "renewals", "renewals_views"}

// TestKillNineThenRebuildEqual kills omsd with SIGKILL under command load,
// restarts it on the same files, lets the projections catch up from their
// checkpoints, and compares every read model with a from-scratch rebuild:
// nothing lost, nothing applied twice. On SQLite a flush is one
// transaction; on MongoDB documents and checkpoint are separate writes, so
// there the replay after the kill exercises the per-document positions.
func TestKillNineThenRebuildEqual(t *testing.T) {
	if testing.Short() {
		t.Skip("starts omsd in a child process")
	}
	onBothStores(t, func(t *testing.T, store config.Config, small bool) {
		// FerretDB scans whole collections per query: keep the load small.
		writers, load := 6, 2500*time.Millisecond
		if small {
			writers, load = 2, 1500*time.Millisecond
		}
		var acked atomic.Int64
		b := killUnderLoad(t, store, writers, load, func() bool { return acked.Load() >= 40 }, func(client remoteClient, cfg config.Config, w int, stop <-chan struct{}) {
			rev := token(t, cfg, "reviewer", "rev-1")
			for i := 0; !stopped(stop); i++ {
				// A person per application: an account holds one open
				// application.
				tok := token(t, cfg, "applicant", fmt.Sprintf("crash-%d-%d", w, i))
				id, ok := client.submit(tok, fmt.Sprintf("%d%06d", w+1, i))
				if !ok {
					return
				}
				acked.Add(1)
				for _, step := range []struct{ tok, action, body string }{
					{rev, "claim", ""},
					{rev, "request-info", `{"questions":[{"text":"Адрес?","field":"/address/street"}]}`},
					{tok, "provide-info", `{"answers":[{"questionId":"1.1","text":"Тверская"}]}`},
					{rev, "approve", ""},
					{rev, "issue-policy", ""},
				} {
					if i%3 == 1 && step.action == "approve" {
						step.action, step.body = "reject", `{"reasonCode":"other","reason":"Проверка"}`
					}
					if !client.post(step.tok, "/api/v1/applications/"+id+"/"+step.action, step.body) {
						return
					}
					acked.Add(1)
					if i%3 == 1 && step.action == "reject" {
						break
					}
				}
			}
		})
		if acked.Load() < 20 {
			t.Fatalf("only %d commands acknowledged before the kill; no load to speak of", acked.Load())
		}
		before := rebuildEqual(t, b, b.Runner().Names(), logicalCollections)
		if len(before["history"]) < int(acked.Load()) {
			t.Fatalf("history has %d entries, %d commands were acknowledged", len(before["history"]), acked.Load())
		}
		t.Logf("%d commands acknowledged before kill -9; %d history entries; read models equal to a rebuild", acked.Load(), len(before["history"]))
	})
}

type remoteClient struct{ addr string }

func (c remoteClient) request(tok, method, path, body string) (int, []byte, error) {
	req, err := newRequest(method, "http://"+c.addr+path, tok, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c remoteClient) post(tok, path, body string) bool {
	code, _, err := c.request(tok, "POST", path, body)
	return err == nil && code < 300
}

func (c remoteClient) submit(tok, passport string) (string, bool) {
	docs := map[string]string{}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		id, ok := c.upload(tok, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%s %d\n%%%%EOF\n", passport, i)))
		if !ok {
			return "", false
		}
		docs[kind] = id
	}
	code, body, err := c.request(tok, "POST", "/api/v1/applications", formJSON(passport, docs))
	if err != nil || code != 201 {
		return "", false
	}
	var r result
	if json.Unmarshal(body, &r) != nil {
		return "", false
	}
	return r.ApplicationID, true
}
