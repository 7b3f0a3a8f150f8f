package appview_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// TestSlimFoldMatchesFullFold checks what NextSlim relies on: folding each
// event into a slim view gives, step by step, the slim of the full fold,
// through corrections, an address change (which moves the policy's region),
// a renewal and the erasure. It also checks that Slim keeps what the
// projections read, by name, so that trimming one of them fails here too.
func TestSlimFoldMatchesFullFold(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	for name, evs := range map[string][]schema.Event{
		"corrections, renewal, erasure": journey(t0),
		"benchmark journey":             benchload.Journey(uuid.NewString(), "alice", 7, t0),
	} {
		t.Run(name, func(t *testing.T) {
			var full, slim appview.View
			for i, e := range evs {
				rec := recorded(t, i, e, t0)
				typ := rec.Envelope.Type
				if err := appview.Apply(&full, rec); err != nil {
					t.Fatal(err)
				}
				if err := appview.Apply(&slim, rec); err != nil {
					t.Fatal(err)
				}
				appview.Slim(&slim)
				want := full
				appview.Slim(&want)
				if a, b := asJSON(t, want), asJSON(t, slim); !reflect.DeepEqual(a, b) {
					t.Fatalf("after %s:\nslim of full %v\nslim fold    %v", typ, a, b)
				}
				kept := []struct {
					what       string
					full, slim any
				}{
					{"applicant", full.Form.Applicant, slim.Form.Applicant},
					{"region", full.Form.Address.Region, slim.Form.Address.Region},
					{"residence document type", full.Form.ResidenceDocument.Type, slim.Form.ResidenceDocument.Type},
					{"policy", full.Policy, slim.Policy},
					{"past policies", full.PastPolicies, slim.PastPolicies},
					{"questions", full.Questions, slim.Questions},
					{"consent", full.Consent, slim.Consent},
					{"decision", full.Decision, slim.Decision},
					{"status", full.Status, slim.Status},
					{"assignee", full.Assignee, slim.Assignee},
					{"erased", full.Erased, slim.Erased},
				}
				f := slim.Form
				if f.IdentityDocument != (schema.IdentityDocument{}) || f.Contacts != (schema.Contacts{}) || f.Documents != nil ||
					f.Address != (schema.Address{Region: f.Address.Region}) || f.ResidenceDocument != (schema.ResidenceDocument{Type: f.ResidenceDocument.Type}) {
					t.Errorf("after %s the slim view still holds what Slim clears: %+v", typ, f)
				}
				for _, k := range kept {
					if !reflect.DeepEqual(k.full, k.slim) {
						t.Errorf("after %s the slim view lost the %s: %v, want %v", typ, k.what, k.slim, k.full)
					}
				}
			}
			fb, _ := json.Marshal(full)
			sb, _ := json.Marshal(slim)
			t.Logf("final view: %d bytes in full, %d slim", len(fb), len(sb))
		})
	}
}
