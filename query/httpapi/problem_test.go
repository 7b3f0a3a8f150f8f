package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/query/httpapi"
)

// Every refusal of the query API is the command side's problem document:
// a code, type urn:oms:problem:<code>, a title and a detail in Russian and
// English, the status repeated, WWW-Authenticate on a 401 and Retry-After
// on a 503.
func TestQueryRefusalsAreProblemDocuments(t *testing.T) {
	e := newTestEnv(t)
	e.put(t, history.Applications, readstore.Doc{ID: "01900000-0000-7000-8000-000000000001", Body: []byte(`{"applicationId":"01900000-0000-7000-8000-000000000001","applicantId":"alice","status":"submitted"}`)})
	e.appendEvents(t, "01900000-0000-7000-8000-000000000001", benchload.Journey("01900000-0000-7000-8000-000000000001", "alice", 1, e.clock.Now())[0])
	head, err := e.events.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const (
		applicant = events.RoleApplicant
		reviewer  = events.RoleReviewer
		auditor   = events.RoleAuditor
	)
	cases := []struct {
		path, role string
		status     int
	}{
		{"/api/v1/cabinet", "", 401},
		{"/api/v1/reviewer/queue", "", 401},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001", "", 401},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/state", "", 401},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/access", "", 401},
		{"/api/v1/cabinet", reviewer, 403},
		{"/api/v1/cabinet?applicant=carol", applicant, 403},
		{"/api/v1/cabinet", events.RoleOperator, 400},
		{"/api/v1/reviewer/queue", applicant, 403},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/history", applicant, 403},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/state", reviewer, 403},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/access", reviewer, 403},
		{"/api/v1/cabinet?after=x", applicant, 400},
		{fmt.Sprintf("/api/v1/cabinet?after=%d", head+1000), applicant, 400},
		{"/api/v1/reviewer/queue?limit=0", reviewer, 400},
		{"/api/v1/reviewer/queue?overdue=maybe", reviewer, 400},
		{"/api/v1/reviewer/queue?cursor=!!!", reviewer, 400},
		{"/api/v1/reviewer/queue?status=bogus", reviewer, 400},
		{"/api/v1/reviewer/queue?region=ZZ", reviewer, 400},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/state?revision=-1", auditor, 400},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/state?at=now", auditor, 400},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/state?revision=0&at=2026-01-01T00:00:00Z", auditor, 400},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/access?limit=0", auditor, 400},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001/access?cursor=x", auditor, 400},
		{"/api/v1/applications/nobody", reviewer, 404},
		{"/api/v1/applications/01900000-0000-7000-8000-000000000001", "applicant", 404}, // someone else's
		{"/api/v1/applications/nobody/history", reviewer, 404},
		{"/api/v1/applications/nobody/state", auditor, 404},
		{"/api/v1/applications/nobody/access", auditor, 404},
		{fmt.Sprintf("/api/v1/cabinet?after=%d", head), applicant, 503}, // the projections never get there
	}
	for _, tc := range cases {
		a := e.get(t, tc.path, tc.role, "bob")
		if a.status != tc.status {
			t.Errorf("%s as %q: %d %s, want %d", tc.path, tc.role, a.status, a.body, tc.status)
			continue
		}
		a.problem(t)
	}

	// Without an event store no staff read can be recorded: 503.
	app := fiber.New(fiber.Config{ErrorHandler: commandapi.ErrorHandler})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(events.WithMetadata(c.UserContext(), events.Metadata{Actor: events.Actor{ID: "rev-1", Role: reviewer}}))
		return c.Next()
	})
	httpapi.Register(app, httpapi.Deps{Store: e.store, Waiter: e.waiter})
	unlogged := &testEnv{app: app}
	a := unlogged.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001", "", "")
	if a.status != 503 {
		t.Fatalf("unrecorded read: %d %s", a.status, a.body)
	}
	if p := a.problem(t); p["code"] != "access_log_unavailable" {
		t.Errorf("unrecorded read: %s", a.body)
	}
}

// An application id is read as the command side reads it: any spelling of
// the same UUID is the same application, so a client holding one the
// command side accepted is not told here that it does not exist.
func TestApplicationIDSpellings(t *testing.T) {
	e := newTestEnv(t)
	const id = "01900000-0000-7000-8000-0000000000ab"
	e.put(t, history.Applications, readstore.Doc{ID: id, Body: []byte(`{"applicationId":"` + id + `","applicantId":"alice","status":"submitted"}`)})
	e.put(t, history.Entries, readstore.Doc{ID: history.EntryID(id, 0), Position: 1, Body: []byte(`{"applicationId":"` + id + `","revision":0,"type":"ApplicationSubmitted","diff":[]}`)})
	e.appendEvents(t, id, benchload.Journey(id, "alice", 1, e.clock.Now())[0])
	for _, spelling := range []string{id, strings.ToUpper(id), "urn:uuid:" + id, strings.ReplaceAll(id, "-", "")} {
		for _, route := range []string{"", "/history", "/state"} {
			role := events.RoleReviewer
			if route == "/state" {
				role = events.RoleAuditor
			}
			a := e.get(t, "/api/v1/applications/"+spelling+route, role, "staff-1")
			if a.status != 200 || !strings.Contains(string(a.body), id) {
				t.Errorf("%s%s: %d %s", spelling, route, a.status, a.body)
			}
		}
	}
	if a := e.get(t, "/api/v1/applications/"+id+"x", events.RoleReviewer, "staff-1"); a.status != 404 {
		t.Errorf("a malformed id: %d", a.status)
	}
}
