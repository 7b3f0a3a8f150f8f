package authz_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/authz"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
)

func TestLookupMirrorsFiberRouting(t *testing.T) {
	table := authz.Table()
	for _, c := range []struct {
		method, path, want string
	}{
		{"GET", "/api/v1/applications/abc", "/api/v1/applications/:id"},
		{"GET", "/api/v1/applications/abc/", "/api/v1/applications/:id"},
		{"GET", "/API/V1/Applications/abc/History", "/api/v1/applications/:id/history"},
		{"HEAD", "/api/v1/cabinet", "/api/v1/cabinet"},
		{"POST", "/api/v1/applications/abc/claim", "/api/v1/applications/:id/claim"},
		{"GET", "/static/app.css", "/static/*"},
		{"GET", "/static/", "/static/*"},
		{"GET", "/", "/"},
		{"GET", "/api/v1/applications", ""},          // only POST is registered
		{"POST", "/api/v1/applications/abc", ""},     // only GET
		{"GET", "/api/v1/applications//history", ""}, // an empty id
		{"GET", "/api/v1/applications/a/b/history", ""},
		{"DELETE", "/api/v1/cabinet", ""},
		{"GET", "/nowhere", ""},
	} {
		r, ok := authz.Lookup(table, c.method, c.path)
		if got := map[bool]string{true: r.Path}[ok]; got != c.want {
			t.Errorf("%s %s matched %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestTableHasOneRowPerRoute(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range authz.Table() {
		if seen[r.Key()] {
			t.Errorf("%s is in the table twice", r.Key())
		}
		seen[r.Key()] = true
		// Auditors only read.
		if r.Method != fiber.MethodGet && r.Auditor.Allowed() && r.Anonymous == authz.Deny {
			t.Errorf("%s lets auditors change state", r.Key())
		}
		if r.Method == fiber.MethodGet && r.MaxBody != 0 {
			t.Errorf("%s takes a body", r.Key())
		}
	}
}

// visits are the open visits the middleware is told of: operator u1 with
// alice. Its look-up of "down" fails, as a store that does not answer.
type visits map[[2]string]bool

func (v visits) Open(_ context.Context, operator, applicant string) (bool, error) {
	if applicant == "down" {
		return false, errors.New("the event store did not answer")
	}
	return v[[2]string{operator, applicant}], nil
}

// app mounts two routes, one of them missing from the table.
func app(t *testing.T) *fiber.App { return appWith(t, visits{{"u1", "alice"}: true}) }

func appWith(t *testing.T, v authz.Visits) *fiber.App {
	table := []authz.Route{
		{Method: "GET", Path: "/api/items/:id", Applicant: authz.Own, Operator: authz.OnBehalf, Reviewer: authz.Allow},
		{Method: "POST", Path: "/api/items", MaxBody: 10, Applicant: authz.Own},
	}
	a := fiber.New()
	a.Use(func(c *fiber.Ctx) error {
		if role := c.Get("X-Test-Role"); role != "" {
			md := events.Metadata{Actor: events.Actor{ID: c.Get("X-Test-Subject", "u1"), Role: role}}
			c.SetUserContext(events.WithMetadata(c.UserContext(), md))
		}
		return c.Next()
	})
	a.Use(authz.Middleware(authz.Options{Table: table, Visits: v}))
	a.Get("/api/items/:id", func(c *fiber.Ctx) error {
		md, _ := events.MetadataFrom(c.UserContext())
		return c.SendString("item for " + md.OnBehalfOf)
	})
	a.Post("/api/items", func(c *fiber.Ctx) error { return c.SendString("created") })
	a.Get("/api/secret", func(c *fiber.Ctx) error { return c.SendString("secret") })
	return a
}

func TestMiddleware(t *testing.T) {
	a := app(t)
	for _, c := range []struct {
		name, method, path, role, obo, body string
		want                                int
		wantBody                            string
	}{
		{"anonymous", "GET", "/api/items/1", "", "", "", 401, "unauthenticated"},
		{"denied role", "GET", "/api/items/1", "auditor", "", "", 403, "forbidden"},
		{"allowed role", "GET", "/api/items/1", "reviewer", "", "", 200, "item for"},
		{"own", "GET", "/api/items/1", "applicant", "", "", 200, "item for"},
		{"own naming another", "GET", "/api/items/1?applicant=u2", "applicant", "", "", 403, "not_owner"},
		{"own naming self", "GET", "/api/items/1?applicant=u1", "applicant", "", "", 200, "item for"},
		{"operator naming nobody", "GET", "/api/items/1", "operator", "", "", 403, "on_behalf_required"},
		{"operator by header", "GET", "/api/items/1", "operator", "alice", "", 200, "item for alice"},
		{"operator by query", "GET", "/api/items/1?applicant=alice", "operator", "", "", 200, "item for alice"},
		// Naming an applicant is not enough: the applicant opened a visit
		// with this operator, not with another one, and not for bob.
		{"operator without a visit", "GET", "/api/items/1", "operator", "bob", "", 403, "visit_required"},
		{"another operator", "GET", "/api/items/1?applicant=alice", "operator:u2", "", "", 403, "visit_required"},
		{"a visit that cannot be checked", "GET", "/api/items/1", "operator", "down", "", 503, "visit_check_failed"},
		{"operator naming two", "GET", "/api/items/1?applicant=bob", "operator", "alice", "", 403, "on_behalf_ambiguous"},
		{"operator naming junk", "GET", "/api/items/1", "operator", "a b", "", 403, "on_behalf_invalid"},
		{"operator naming junk in the query", "GET", "/api/items/1?applicant=%D0%B1%D0%BE%D0%B1", "operator", "", "", 403, "on_behalf_invalid"},
		{"operator naming an empty header and nothing else", "GET", "/api/items/1?applicant=", "operator", "", "", 403, "on_behalf_required"},
		{"operator naming themselves", "GET", "/api/items/1", "operator", "u1", "", 403, "on_behalf_of_self"},
		{"operator naming themselves in the query", "GET", "/api/items/1?applicant=u1", "operator", "", "", 403, "on_behalf_of_self"},
		{"operator naming two in two headers", "GET", "/api/items/1", "operator", "alice|bob", "", 403, "on_behalf_ambiguous"},
		{"operator naming one in two headers", "GET", "/api/items/1", "operator", "alice|alice", "", 200, "item for alice"},
		{"operator naming two in two parameters", "GET", "/api/items/1?applicant=alice&applicant=bob", "operator", "", "", 403, "on_behalf_ambiguous"},
		{"unknown role", "GET", "/api/items/1", "system", "", "", 403, "forbidden"},
		{"body within the limit", "POST", "/api/items", "applicant", "", "0123456789", 200, "created"},
		{"body over the limit", "POST", "/api/items", "applicant", "", "0123456789x", 413, "body_too_large"},
		{"body on a GET", "GET", "/api/items/1", "reviewer", "", "x", 413, "body_too_large"},
		{"a route missing from the table", "GET", "/api/secret", "reviewer", "", "", 404, ""},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if role, subject, ok := strings.Cut(c.role, ":"); ok {
			req.Header.Set("X-Test-Role", role)
			req.Header.Set("X-Test-Subject", subject)
		} else if c.role != "" {
			req.Header.Set("X-Test-Role", c.role)
		}
		if c.obo != "" {
			for _, v := range strings.Split(c.obo, "|") {
				req.Header.Add(authz.HeaderOnBehalfOf, v)
			}
		}
		resp, err := a.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.wantBody) {
			t.Errorf("%s: %d %s, want %d %q", c.name, resp.StatusCode, b, c.want, c.wantBody)
		}
		if resp.StatusCode == 401 || resp.StatusCode == 403 {
			if !strings.Contains(string(b), `"ru":`) || !strings.Contains(string(b), `"en":`) {
				t.Errorf("%s: refusal not in both languages: %s", c.name, b)
			}
		}
	}
}

// Without a way to check visits the middleware lets no operator act for
// anyone: a deployment that forgot to wire it fails closed.
func TestWithoutVisitsNoOperatorActs(t *testing.T) {
	a := appWith(t, nil)
	req := httptest.NewRequest("GET", "/api/items/1?applicant=alice", nil)
	req.Header.Set("X-Test-Role", "operator")
	resp, err := a.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "visit_required") {
		t.Fatalf("%d %s, want 403 visit_required", resp.StatusCode, b)
	}
}

// closing is a visit that is open when the request's headers are checked
// and closed by the time it is asked again: the applicant closed it while
// the body was arriving.
type closing struct {
	mu    sync.Mutex
	asked int
}

func (v *closing) Open(context.Context, string, string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.asked++
	return v.asked == 1, nil
}

// An operator's request whose visit closes while its body arrives is
// refused, whether the middleware reads the body or the handler streams
// it; a read without a body is not asked twice (QA: a slow submission and
// a slow upload landed after the visit was closed).
func TestAVisitClosedWhileTheBodyArrivesRefusesTheRequest(t *testing.T) {
	for _, c := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"a body the middleware reads", "POST", "/api/items", `{"x":1}`, 403},
		{"a body the handler streams", "POST", "/api/uploads", "scan bytes", 403},
		{"no body", "GET", "/api/items/1", "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := &closing{}
			table := []authz.Route{
				{Method: "GET", Path: "/api/items/:id", Operator: authz.OnBehalf},
				{Method: "POST", Path: "/api/items", MaxBody: 100, Operator: authz.OnBehalf},
				{Method: "POST", Path: "/api/uploads", MaxBody: 2 * authz.MaxBuffered, Operator: authz.OnBehalf},
			}
			a := fiber.New()
			a.Use(func(c *fiber.Ctx) error {
				c.SetUserContext(events.WithMetadata(c.UserContext(), events.Metadata{Actor: events.Actor{ID: "u1", Role: "operator"}}))
				return c.Next()
			})
			a.Use(authz.Middleware(authz.Options{Table: table, Visits: v}))
			stored := false
			a.Get("/api/items/:id", func(c *fiber.Ctx) error { return c.SendString("item") })
			a.Post("/api/items", func(c *fiber.Ctx) error { stored = true; return c.SendString("created") })
			a.Post("/api/uploads", func(c *fiber.Ctx) error {
				_ = c.Body() // the stream, read
				if refused, err := commandapi.AfterBody(c); refused || err != nil {
					return err
				}
				stored = true
				return c.SendString("uploaded")
			})
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("X-On-Behalf-Of", "alice")
			resp, err := a.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.want || (c.want == 403 && (!strings.Contains(string(b), "visit_required") || stored)) {
				t.Fatalf("%d %s (stored: %v), want %d", resp.StatusCode, b, stored, c.want)
			}
		})
	}
}

// An operator's streamed body is checked against the visit only by a
// handler that calls commandapi.AfterBody; the upload's does. A new
// streaming route an operator may use needs the same, so this list is
// held to the table.
func TestOnlyTheUploadStreamsAnOperatorsBody(t *testing.T) {
	var streamed []string
	for _, r := range authz.Table() {
		if r.Streams() && r.Operator == authz.OnBehalf {
			streamed = append(streamed, r.Method+" "+r.Path)
		}
	}
	if want := []string{"POST /api/v1/documents"}; !slices.Equal(streamed, want) {
		t.Fatalf("routes streaming an operator's body: %q, want %q (does each handler call commandapi.AfterBody?)", streamed, want)
	}
}
