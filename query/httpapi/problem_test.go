package httpapi_test

import (
	"context"
	"fmt"
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
	e.put(t, history.Applications, readstore.Doc{ID: "app-1", Body: []byte(`{"applicationId":"app-1","applicantId":"alice","status":"submitted"}`)})
	e.appendEvents(t, "app-1", benchload.Journey("app-1", "alice", 1, e.clock.now())[0])
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
		{"/api/v1/applications/app-1", "", 401},
		{"/api/v1/applications/app-1/state", "", 401},
		{"/api/v1/applications/app-1/access", "", 401},
		{"/api/v1/cabinet", reviewer, 403},
		{"/api/v1/cabinet?applicant=carol", applicant, 403},
		{"/api/v1/cabinet", events.RoleOperator, 400},
		{"/api/v1/reviewer/queue", applicant, 403},
		{"/api/v1/applications/app-1/history", applicant, 403},
		{"/api/v1/applications/app-1/state", reviewer, 403},
		{"/api/v1/applications/app-1/access", reviewer, 403},
		{"/api/v1/cabinet?after=x", applicant, 400},
		{fmt.Sprintf("/api/v1/cabinet?after=%d", head+1000), applicant, 400},
		{"/api/v1/reviewer/queue?limit=0", reviewer, 400},
		{"/api/v1/reviewer/queue?overdue=maybe", reviewer, 400},
		{"/api/v1/reviewer/queue?cursor=!!!", reviewer, 400},
		{"/api/v1/reviewer/queue?status=bogus", reviewer, 400},
		{"/api/v1/reviewer/queue?region=ZZ", reviewer, 400},
		{"/api/v1/applications/app-1/state?revision=-1", auditor, 400},
		{"/api/v1/applications/app-1/state?at=now", auditor, 400},
		{"/api/v1/applications/app-1/state?revision=0&at=2026-01-01T00:00:00Z", auditor, 400},
		{"/api/v1/applications/app-1/access?limit=0", auditor, 400},
		{"/api/v1/applications/app-1/access?cursor=x", auditor, 400},
		{"/api/v1/applications/nobody", reviewer, 404},
		{"/api/v1/applications/app-1", "applicant", 404}, // someone else's
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
	a := unlogged.get(t, "/api/v1/applications/app-1", "", "")
	if a.status != 503 {
		t.Fatalf("unrecorded read: %d %s", a.status, a.body)
	}
	if p := a.problem(t); p["code"] != "access_log_unavailable" {
		t.Errorf("unrecorded read: %s", a.body)
	}
}
