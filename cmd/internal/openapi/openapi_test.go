package openapi_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/openapi"
	"github.com/omsonline/oms/events/schema"
)

// TestDocumentIsConsistent checks what a validator would: every $ref
// resolves, every {param} of a path is declared as a path parameter, every
// operation answers something and has a unique operationId.
func TestDocumentIsConsistent(t *testing.T) {
	raw, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(compact(t, raw)), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref at all: the schemas are not shared")
	}
	for _, r := range refs {
		if _, ok := schemas[r[1]]; !ok {
			t.Errorf("$ref to missing schema %s", r[1])
		}
	}
	ids := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		want := map[string]bool{}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			want[m[1]] = true
		}
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if len(op["responses"].(map[string]any)) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			got := map[string]bool{}
			for _, p := range op["parameters"].([]any) {
				p := p.(map[string]any)
				if p["in"] == "path" {
					got[p["name"].(string)] = true
				}
			}
			for name := range want {
				if !got[name] {
					t.Errorf("%s %s: path parameter %s not declared", method, path, name)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s %s: declares path parameters %v", method, path, got)
			}
		}
	}
	// The submission body is the form, field for field.
	form := schemas["Form"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"applicant", "identityDocument", "residenceDocument", "address", "contacts", "documents", "consent"} {
		if _, ok := form[f]; !ok {
			t.Errorf("Form schema lacks %s", f)
		}
	}
	if strings.Contains(string(raw), `"ENP"`) {
		t.Error("a json:\"-\" field leaked into a schema")
	}
}

func compact(t *testing.T, raw []byte) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPathOf(t *testing.T) {
	if got := openapi.PathOf("/api/v1/applications/:id/history"); got != "/api/v1/applications/{id}/history" {
		t.Fatal(got)
	}
}

// Members that are sent only once they have a value are not required: a
// consent that was not withdrawn has no withdrawnAt (omitzero), a question
// not yet answered no answeredAt.
func TestOptionalMembersAreNotRequired(t *testing.T) {
	raw, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string
				Properties map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// The last two are request members the commands treat as optional.
	for schema, member := range map[string]string{"Consent": "withdrawnAt", "Question": "answeredAt", "Change": "from",
		"WithdrawConsent": "reason", "ProvideInfo": "corrections"} {
		s, ok := doc.Components.Schemas[schema]
		if _, has := s.Properties[member]; !ok || !has {
			t.Errorf("no schema %s with a member %s", schema, member)
		}
		if slices.Contains(s.Required, member) {
			t.Errorf("%s requires %s, which is not always sent", schema, member)
		}
	}
	// ... and those always sent still are.
	if s := doc.Components.Schemas["Consent"]; !slices.Contains(s.Required, "signedAt") {
		t.Errorf("Consent does not require signedAt: %v", s.Required)
	}
}

// Closed value sets are documented as enums from the lists the code
// checks, and /readyz documents its 503.
func TestEnumsAndReadiness(t *testing.T) {
	raw, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]json.RawMessage }
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct{ Enum []string }
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas["Reject"].Properties["reasonCode"].Enum; !slices.Equal(got, schema.RejectReasons) {
		t.Errorf("Reject.reasonCode enum %v, want %v", got, schema.RejectReasons)
	}
	if _, ok := doc.Paths["/readyz"]["get"].Responses["503"]; !ok {
		t.Error("/readyz does not document its 503")
	}
}

// Every API operation says it may answer 503 when a store does not answer
// (the adapter's ErrUnavailable), keeping what its own 503 says, and the
// erasure documents the 202 it gives before the read models show it (ops
// QA: both were missing).
func TestStoresAwayAndTheErasuresAcceptedAreDocumented(t *testing.T) {
	raw, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Tags      []string                  `json:"tags"`
			Responses map[string]map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			if slices.Contains(op.Tags, "meta") {
				continue
			}
			d, _ := op.Responses["503"]["description"].(string)
			if !strings.Contains(d, "event_store_unavailable") {
				t.Errorf("%s %s: 503 %q does not say a store may not answer", method, path, d)
			}
		}
	}
	// A body without its length is refused before any route (QA: not
	// listed for the upload and the submission).
	for _, path := range []string{"/api/v1/documents", "/api/v1/applications", "/api/v1/applications/{id}/approve"} {
		if d, _ := doc.Paths[path]["post"].Responses["411"]["description"].(string); !strings.Contains(d, "length_required") {
			t.Errorf("POST %s: no 411 length_required (%q)", path, d)
		}
	}
	erase := doc.Paths["/api/v1/admin/applicants/{id}/erase"]["post"]
	if _, ok := erase.Responses["202"]["content"]; !ok {
		t.Errorf("the erasure's 202 is not documented with its body: %v", erase.Responses["202"])
	}
	if d, _ := erase.Responses["503"]["description"].(string); !strings.Contains(d, "upload_scan_timeout") {
		t.Errorf("the erasure's own 503 was lost: %q", d)
	}
}
