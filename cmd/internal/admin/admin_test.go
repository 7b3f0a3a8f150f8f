package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/runner"
)

// projections is a Projections with one projection, "cabinet", whose
// parked messages fail to replay when failReplay is set.
type projections struct {
	mu         sync.Mutex
	rebuilds   int
	failReplay bool
	superseded bool
	// elsewhere puts the projections on another node.
	elsewhere bool
	// gate, if set, holds each rebuild until closed; rebuilt records the
	// names the rebuilds were given, read after the gate.
	gate    chan struct{}
	rebuilt []string
}

func (p *projections) Names() []string { return []string{"cabinet"} }
func (p *projections) Leading() bool   { return !p.elsewhere }
func (p *projections) Holder(context.Context) (string, time.Time, bool, error) {
	if p.elsewhere {
		return "node-b", time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC), true, nil
	}
	return "node-a", time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC), true, nil
}
func (p *projections) Position(context.Context, string) (uint64, error) { return 0, nil }
func (p *projections) Behind(context.Context, string, uint64) uint64    { return 0 }
func (p *projections) Rebuild(_ context.Context, name string, _ runner.RebuildOptions) (runner.Progress, error) {
	if p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rebuilds++
	p.rebuilt = append(p.rebuilt, name)
	return runner.Progress{}, nil
}
func (p *projections) ReplayParked(context.Context, string) (int, error) {
	if p.failReplay {
		return 2, errors.New("runner: replay of parked 42 failed again: boom")
	}
	if p.superseded {
		return 1, &runner.SupersededError{Projection: "cabinet", Skipped: 2}
	}
	return 3, nil
}

// newAdminApp serves the admin routes to an administrator, with the
// ErrorHandler omsd mounts.
func newAdminApp(p Projections) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: commandapi.ErrorHandler})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(events.WithMetadata(c.UserContext(), events.Metadata{Actor: events.Actor{ID: "root", Role: events.RoleAdmin}}))
		return c.Next()
	})
	Register(app, Deps{Runner: p, Logger: slog.New(slog.DiscardHandler)})
	return app
}

type answer struct {
	status int
	ctype  string
	body   map[string]any
}

func post(t *testing.T, app *fiber.App, path, body string) answer {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s: %d %q is not JSON", path, resp.StatusCode, raw)
	}
	return a
}

// wantProblem checks a problem document of the command API's shape: status,
// code, type, a title that is not Fiber's English default, and a detail in
// both languages.
func wantProblem(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || !strings.HasPrefix(a.ctype, commandapi.ContentTypeProblem) {
		t.Fatalf("%s: %d %s %v, want a %d problem", what, a.status, a.ctype, a.body, status)
	}
	detail, _ := a.body["detail"].(map[string]any)
	ru, _ := detail["ru"].(string)
	en, _ := detail["en"].(string)
	if a.body["code"] != code || a.body["type"] != "urn:oms:problem:"+code || a.body["status"] != float64(status) ||
		a.body["title"] == "Bad Request" || ru == "" || en == "" || ru == en {
		t.Fatalf("%s: %v, want code %s with a bilingual detail", what, a.body, code)
	}
	if _, raw := a.body["error"]; raw {
		t.Errorf("%s: a raw error in the answer: %v", what, a.body)
	}
}

func TestUnknownProjectionIsABilingual404(t *testing.T) {
	p := &projections{}
	app := newAdminApp(p)
	wantProblem(t, "replay-parked", post(t, app, "/api/v1/admin/projections/bogus/replay-parked", ""), 404, "unknown_projection")
	wantProblem(t, "rebuild", post(t, app, "/api/v1/admin/projections/bogus/rebuild", ""), 404, "unknown_projection")
	if p.rebuilds != 0 {
		t.Fatalf("%d rebuilds started", p.rebuilds)
	}
}

func TestRebuildRefusesAMalformedBody(t *testing.T) {
	p := &projections{}
	app := newAdminApp(p)
	for _, body := range []string{`{"x":`, `[1]`, `nonsense`} {
		wantProblem(t, "rebuild with "+body, post(t, app, "/api/v1/admin/projections/cabinet/rebuild", body), 400, "bad_json")
	}
	p.mu.Lock()
	n := p.rebuilds
	p.mu.Unlock()
	if n != 0 {
		t.Fatalf("a malformed request started %d rebuilds", n)
	}
	// No body and an empty object are still a rebuild (each on an app of
	// its own: the first may still be running).
	for _, body := range []string{"", "{}"} {
		if a := post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/rebuild", body); a.status != fiber.StatusAccepted {
			t.Fatalf("rebuild with %q: %d %v", body, a.status, a.body)
		}
	}
}

// A rebuild sent to a node the projections do not run on is refused at
// once, naming the node they run on: it was answered 202 and failed after,
// in English, naming nothing.
func TestRebuildOffTheLeaderNamesTheHolder(t *testing.T) {
	p := &projections{elsewhere: true}
	a := post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/rebuild", "")
	wantProblem(t, "rebuild off the leader", a, 409, "not_leader")
	detail := a.body["detail"].(map[string]any)
	if !strings.Contains(detail["ru"].(string), "node-b") || !strings.Contains(detail["en"].(string), "node-b") {
		t.Fatalf("the refusal does not name the holder: %v", detail)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rebuilds != 0 {
		t.Fatalf("%d rebuilds started", p.rebuilds)
	}
}

func TestFailedReplayIsABilingual409(t *testing.T) {
	p := &projections{failReplay: true}
	a := post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/replay-parked", "")
	wantProblem(t, "failed replay", a, 409, "replay_failed")
	if d := a.body["detail"].(map[string]any); !strings.Contains(d["ru"].(string), "2") || strings.Contains(d["en"].(string), "boom") {
		t.Errorf("detail %v: want the count replayed, not the Go error", d)
	}
	p.failReplay = false
	if a := post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/replay-parked", ""); a.status != 200 || a.body["replayed"] != float64(3) {
		t.Fatalf("replay: %d %v", a.status, a.body)
	}
	// Parked messages left parked because their streams went on: told in
	// both languages, with the counts and the rebuild that includes them.
	p.superseded = true
	a = post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/replay-parked", "")
	wantProblem(t, "superseded replay", a, 409, "replay_superseded")
	d := a.body["detail"].(map[string]any)
	for _, s := range []string{d["ru"].(string), d["en"].(string)} {
		if !strings.Contains(s, "1") || !strings.Contains(s, "2") || !strings.Contains(s, "omsctl projections rebuild cabinet") {
			t.Errorf("detail %q: want both counts and the rebuild", s)
		}
	}
}

// TestRebuildAnswerDoesNotRaceTheRebuild: the 202 is encoded from a copy;
// the fake's rebuild finishes at once and writes the shared state while
// the handler answers (go test -race).
func TestRebuildAnswerDoesNotRaceTheRebuild(t *testing.T) {
	p := &projections{}
	for range 20 {
		a := post(t, newAdminApp(p), "/api/v1/admin/projections/cabinet/rebuild", "")
		if a.status != fiber.StatusAccepted || a.body["running"] != true {
			t.Fatalf("rebuild: %d %v", a.status, a.body)
		}
		// A running rebuild has not finished: no year-1 finishedAt.
		if f, ok := a.body["finishedAt"]; ok {
			t.Fatalf("a running rebuild answers finishedAt %v", f)
		}
	}
}

// The rebuild runs on after its request was answered, so it must own the
// projection's name: Fiber's parameters point into a request buffer that
// the next requests reuse, and the rebuild went on under (and stored its
// checkpoint as) pieces of later URLs.
func TestRebuildKeepsItsNameAfterTheAnswer(t *testing.T) {
	p := &projections{gate: make(chan struct{})}
	app := newAdminApp(p)
	if a := post(t, app, "/api/v1/admin/projections/cabinet/rebuild", ""); a.status != fiber.StatusAccepted {
		t.Fatalf("rebuild: %d %v", a.status, a.body)
	}
	for i := range 50 {
		post(t, app, fmt.Sprintf("/api/v1/admin/projections/zz%06d/replay-parked", i), "")
	}
	close(p.gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		got := slices.Clone(p.rebuilt)
		p.mu.Unlock()
		if len(got) > 0 {
			if len(got) != 1 || got[0] != "cabinet" {
				t.Fatalf("the rebuild ran as %q, want cabinet", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuild did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
