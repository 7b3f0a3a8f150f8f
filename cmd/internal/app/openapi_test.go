package app_test

import (
	"encoding/json"
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
