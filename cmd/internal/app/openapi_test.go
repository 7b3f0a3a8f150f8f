package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/openapi"
)

// TestOpenAPIMatchesRoutes holds the served OpenAPI document to the routes
// Fiber has: every API route registered (everything under /api, plus the
// health and metrics endpoints) has its path and method in the document,
// and the document has nothing that is not registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	a, _ := startApp(t)
	code, body := call(t, a, "GET", openapi.Path, "", "")
	if code != 200 {
		t.Fatalf("%s without a token: %d %s", openapi.Path, code, body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			inDoc[strings.ToUpper(m)+" "+p] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range a.Routes() {
		if r.Method == "HEAD" {
			continue // Fiber adds HEAD to every GET
		}
		if !strings.HasPrefix(r.Path, "/api/") && r.Path != "/healthz" && r.Path != "/readyz" && r.Path != "/metrics" {
			continue // the HTML pages and their static files
		}
		registered[r.Method+" "+openapi.PathOf(r.Path)] = true
	}
	var missing, extra []string
	for k := range registered {
		if !inDoc[k] {
			missing = append(missing, k)
		}
	}
	for k := range inDoc {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("registered but not in the OpenAPI document: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in the OpenAPI document but not registered: %v", extra)
	}
	if len(registered) < 20 {
		t.Errorf("only %d API routes found; the filter is wrong", len(registered))
	}
	if _, ok := doc.Paths["/api/v1/applications/{id}/history"]["get"]; !ok {
		t.Error("path parameters are not written as {id}")
	}
}

// TestOpenAPIProblemsMatchTheDocument sends requests that every part of
// omsd refuses — the authorization middleware, the command and query
// handlers, the policy PDF, the erasure — and holds each answer to the
// served document: its status is documented for that operation as a
// problem document, and the body has every member the Problem schema
// requires, of the type it says (a refusal without code fails here).
func TestOpenAPIProblemsMatchTheDocument(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	code, raw := call(t, a, "GET", openapi.Path, "", "")
	if code != 200 {
		t.Fatalf("%s: %d", openapi.Path, code)
	}
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]json.RawMessage }
		Components struct {
			Schemas map[string]schemaDoc
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	problem, ok := doc.Components.Schemas["Problem"]
	if !ok || len(problem.Required) == 0 {
		t.Fatalf("no Problem schema with required members: %+v", problem)
	}
	for _, m := range []string{"type", "title", "status", "detail", "code"} {
		if !slices.Contains(problem.Required, m) {
			t.Errorf("the Problem schema does not require %s: %v", m, problem.Required)
		}
	}

	applicant, reviewer, auditor, admin := c.token("applicant", "alice"), c.token("reviewer", "rev-1"), c.token("auditor", "aud-1"), c.token("admin", "adm-1")
	res, _ := c.submit(karimov("alice", "7654321"), applicant, "")
	app := res.ApplicationID
	// Once the cabinet lists the application, the erasure refuses it as
	// open (409) instead of finding no applicant (404).
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", res.Position), token: applicant}, 200, nil)

	cases := []struct {
		op     string // "METHOD /path/{template}"
		r      req
		status int
	}{
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet", token: reviewer}, 403},
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet?after=x", token: applicant}, 400},
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet?after=18446744073709551615", token: applicant}, 400},
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet", token: applicant, json: `{}`}, 413},
		{"GET /api/v1/reviewer/queue", req{method: "GET", path: "/api/v1/reviewer/queue?status=bogus", token: reviewer}, 400},
		{"GET /api/v1/reviewer/queue", req{method: "GET", path: "/api/v1/reviewer/queue?region=ZZ", token: reviewer}, 400},
		{"GET /api/v1/reviewer/queue", req{method: "GET", path: "/api/v1/reviewer/queue?cursor=e30", token: reviewer}, 400},
		{"GET /api/v1/applications/{id}", req{method: "GET", path: "/api/v1/applications/nobody", token: reviewer}, 404},
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet"}, 401},
		{"GET /api/v1/cabinet", req{method: "GET", path: "/api/v1/cabinet", token: "not-a-token"}, 401},
		{"GET /api/v1/applications/{id}/history", req{method: "GET", path: "/api/v1/applications/nobody/history", token: reviewer}, 404},
		{"GET /api/v1/applications/{id}/state", req{method: "GET", path: "/api/v1/applications/" + app + "/state?revision=99", token: auditor}, 404},
		{"GET /api/v1/applications/{id}/state", req{method: "GET", path: "/api/v1/applications/" + app + "/state?at=2000-01-01T00:00:00Z", token: auditor}, 404},
		{"GET /api/v1/applications/{id}/state", req{method: "GET", path: "/api/v1/applications/" + app + "/state?revision=0&at=2030-01-01T00:00:00Z", token: auditor}, 400},
		{"GET /api/v1/applications/{id}/access", req{method: "GET", path: "/api/v1/applications/" + app + "/access?limit=0", token: auditor}, 400},
		{"GET /api/v1/policies/{enp}/pdf", req{method: "GET", path: "/api/v1/policies/0000000000000000/pdf", token: applicant}, 404},
		{"POST /api/v1/applications", req{method: "POST", path: "/api/v1/applications", token: applicant, multipart: &filePart{kind: "passport", content: []byte("%PDF-1.7\n")}}, 415},
		{"POST /api/v1/applications", req{method: "POST", path: "/api/v1/applications", token: applicant, json: `{"x":"` + strings.Repeat("x", 300<<10) + `"}`}, 413},
		{"POST /api/v1/applications/{id}/claim", req{method: "POST", path: "/api/v1/applications/nobody/claim", token: reviewer, json: `{}`}, 404},
		{"POST /api/v1/documents", req{method: "POST", path: "/api/v1/documents", token: applicant, json: `{}`}, 415},
		{"POST /api/v1/admin/applicants/{id}/erase", req{method: "POST", path: "/api/v1/admin/applicants/alice/erase", token: admin, json: `{"basis":"subject_request"}`}, 409},
		{"POST /api/v1/admin/applicants/{id}/erase", req{method: "POST", path: "/api/v1/admin/applicants/alice/erase", token: admin, json: `{"basis":"bogus"}`}, 422},
	}
	for _, tc := range cases {
		r := c.do(tc.r)
		name := fmt.Sprintf("%s (%s)", tc.op, tc.r.path)
		if r.status != tc.status {
			t.Errorf("%s: %d %.300s, want %d", name, r.status, r.body, tc.status)
			continue
		}
		method, path, _ := strings.Cut(tc.op, " ")
		documented, ok := doc.Paths[path][strings.ToLower(method)].Responses[fmt.Sprint(r.status)]
		if !ok {
			t.Errorf("%s: answers %d, which the document does not list", name, r.status)
			continue
		}
		if !strings.Contains(string(documented), `"application/problem+json"`) || !strings.Contains(string(documented), `#/components/schemas/Problem`) {
			t.Errorf("%s: %d is documented as %s, not a Problem", name, r.status, documented)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Errorf("%s: %v in %s", name, err, r.body)
			continue
		}
		for _, m := range problem.Required {
			if msg := problem.Properties[m].check(doc.Components.Schemas, body[m]); msg != "" {
				t.Errorf("%s: member %s: %s in %s", name, m, msg, r.body)
			}
		}
		if body["status"] != float64(r.status) {
			t.Errorf("%s: status member %v", name, body["status"])
		}
	}
}

// schemaDoc is as much of an OpenAPI schema as the problem check reads.
type schemaDoc struct {
	Ref        string               `json:"$ref"`
	Type       string               `json:"type"`
	Required   []string             `json:"required"`
	Properties map[string]schemaDoc `json:"properties"`
}

// check says how v fails the schema, or "": present, of its type, a string
// not empty, an object with every member its schema requires.
func (s schemaDoc) check(all map[string]schemaDoc, v any) string {
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		return all[name].check(all, v)
	}
	switch s.Type {
	case "string":
		if x, _ := v.(string); x == "" {
			return "missing or not a non-empty string"
		}
	case "integer":
		if _, ok := v.(float64); !ok {
			return "missing or not a number"
		}
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return "missing or not an object"
		}
		for _, m := range s.Required {
			if msg := s.Properties[m].check(all, o[m]); msg != "" {
				return m + ": " + msg
			}
		}
	default:
		if v == nil {
			return "missing"
		}
	}
	return ""
}
