package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/testclock"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/query/httpapi"
)

// testEnv is the query API over a real embedded event store and a real
// SQLite read store, with the projections replaced by what a test writes
// and the caller named by two test headers instead of a token.
type testEnv struct {
	app    *fiber.App
	events *eventstore.Store
	store  readstore.Store
	waiter *stubWaiter
	clock  *testclock.Clock
}

// stubWaiter has every projection at pos.
type stubWaiter struct {
	mu  sync.Mutex
	pos uint64
}

func (w *stubWaiter) set(pos uint64) { w.mu.Lock(); w.pos = pos; w.mu.Unlock() }

// Position tells where the projection is, as the leader does: the queue's
// pages then look for what moved behind their cursor.
func (w *stubWaiter) Position(context.Context, string) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pos, nil
}

func (w *stubWaiter) WaitFor(ctx context.Context, _ string, pos uint64) error {
	for {
		w.mu.Lock()
		done := w.pos >= pos
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	es := esdbtest.Store(t, eventstore.Options{Now: clock.Now})
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	aliases := map[string]string{}
	for name, kind := range map[string]readstore.Kind{
		cabinet.Collection: readstore.KindDocs, queue.Collection: readstore.KindQueue,
		history.Applications: readstore.KindDocs, history.Entries: readstore.KindDocs, history.Access: readstore.KindDocs,
	} {
		if err := st.EnsureCollection(ctx, name+"_1", kind); err != nil {
			t.Fatal(err)
		}
		aliases[name] = name + "_1"
	}
	if err := st.SetAliases(ctx, aliases); err != nil {
		t.Fatal(err)
	}
	w := &stubWaiter{}
	app := fiber.New(fiber.Config{ErrorHandler: commandapi.ErrorHandler})
	app.Use(func(c *fiber.Ctx) error {
		// Always set: Fiber reuses its contexts, user context included.
		ctx := context.Background()
		if role := c.Get("X-Test-Role"); role != "" {
			md := events.Metadata{Actor: events.Actor{ID: c.Get("X-Test-ID"), Role: role}, OnBehalfOf: c.Get("X-On-Behalf-Of")}
			ctx = events.WithMetadata(ctx, md)
		}
		c.SetUserContext(ctx)
		return c.Next()
	})
	httpapi.Register(app, httpapi.Deps{Store: st, Waiter: w, Events: es, Now: clock.Now, MaxWait: 300 * time.Millisecond})
	return &testEnv{app: app, events: es, store: st, waiter: w, clock: clock}
}

type answer struct {
	status int
	header map[string]string
	body   []byte
}

// problem decodes the answer as a problem document and checks that it has
// the shape of every refusal of the API (the command side's Problem).
func (a answer) problem(t *testing.T) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("%d %s: not JSON: %v", a.status, a.body, err)
	}
	if msg := problemShape(a, p); msg != "" {
		t.Errorf("%d %s: %s", a.status, a.body, msg)
	}
	return p
}

// problemShape says what is wrong with a problem document, or "".
func problemShape(a answer, p map[string]any) string {
	code, _ := p["code"].(string)
	typ, _ := p["type"].(string)
	title, _ := p["title"].(string)
	status, _ := p["status"].(float64)
	d, _ := p["detail"].(map[string]any)
	ru, _ := d["ru"].(string)
	en, _ := d["en"].(string)
	ruTitle, enTitle, _ := strings.Cut(title, " / ")
	switch {
	case a.header["Content-Type"] != "application/problem+json":
		return "Content-Type " + a.header["Content-Type"]
	case code == "":
		return "no code"
	case typ != "urn:oms:problem:"+code:
		return "type " + typ + " for code " + code
	case int(status) != a.status:
		return "status member differs from the HTTP status"
	case !cyrillic(ruTitle) || enTitle == "" || cyrillic(enTitle):
		return "the title is not in Russian / English: " + title
	case ru == "" || en == "" || ru == en || !cyrillic(ru):
		return "the detail is not in Russian and English"
	case a.status == 401 && a.header["Www-Authenticate"] == "":
		return "401 without WWW-Authenticate"
	case a.status == 503 && a.header["Retry-After"] == "":
		return "503 without Retry-After"
	}
	return ""
}

func cyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

// get calls the API as role/id (no role: no caller).
func (e *testEnv) get(t *testing.T, path, role, id string) answer {
	t.Helper()
	return e.getFor(t, path, role, id, "")
}

// getFor is get by an МФЦ operator acting for onBehalfOf.
func (e *testEnv) getFor(t *testing.T, path, role, id, onBehalfOf string) answer {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if role != "" {
		req.Header.Set("X-Test-Role", role)
		req.Header.Set("X-Test-ID", id)
	}
	if onBehalfOf != "" {
		req.Header.Set("X-On-Behalf-Of", onBehalfOf)
	}
	res, err := e.app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	h := map[string]string{}
	for k := range res.Header {
		h[k] = res.Header.Get(k)
	}
	return answer{status: res.StatusCode, header: h, body: body}
}

// appendEvents appends payloads to the application's stream, each a minute
// after the last, and returns the last position.
func (e *testEnv) appendEvents(t *testing.T, appID string, payloads ...schema.Event) uint64 {
	t.Helper()
	var pos uint64
	for _, p := range payloads {
		typ, ver, data, err := schema.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.events.Append(context.Background(), "application-"+appID, eventstore.Any,
			events.Metadata{Actor: events.Actor{ID: "alice", Role: events.RoleApplicant}},
			eventstore.NewEvent{Type: typ, SchemaVersion: ver, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		pos = res.Position
		e.clock.Advance(time.Minute)
	}
	return pos
}

// put writes documents into a logical collection of the read store.
func (e *testEnv) put(t *testing.T, logical string, docs ...readstore.Doc) {
	t.Helper()
	var ws []readstore.Write
	for _, d := range docs {
		ws = append(ws, readstore.Write{Collection: logical + "_1", Doc: d})
	}
	if err := e.store.Flush(context.Background(), ws, readstore.Checkpoint{Projection: "test"}); err != nil {
		t.Fatal(err)
	}
}
