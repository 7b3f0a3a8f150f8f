package appview_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// A renewal inside the term continues the policy: it is in force from the
// first term's start to the new end, today, and the first document is
// superseded, not expired. A renewal after a gap starts the policy anew.
func TestRenewalContinuesOrRestartsThePolicy(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	evs := benchload.Journey(uuid.NewString(), "alice", 3, t0) // issued 2026-11-26 .. 2027-11-25
	issued := evs[len(evs)-1].(schema.PolicyIssued)
	doc2 := schema.PolicyDocument{Number: issued.ENP + "-02", Version: 2, IssuedAt: "2027-11-01"}
	for _, tc := range []struct {
		name            string
		from, to        string
		wantFrom        string
		wantPastStatus  string
		expireInBetween bool
	}{
		{"the day after the term", "2027-11-26", "2028-11-25", issued.ValidFrom, "superseded", false},
		{"overlapping the term", "2027-11-20", "2028-11-19", issued.ValidFrom, "superseded", false},
		{"after a gap", "2027-12-10", "2028-12-09", "2027-12-10", "expired", true},
		// Expiry recorded, renewed the next morning: no day uninsured, so
		// one span, and the first term is listed as expired, as it was.
		{"the day after a recorded expiry", "2027-11-26", "2028-11-25", issued.ValidFrom, "expired", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := append([]schema.Event{}, evs...)
			if tc.expireInBetween {
				all = append(all, schema.PolicyExpired{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidTo: issued.ValidTo, ExpiredAt: t0.AddDate(1, 0, 0)})
			}
			all = append(all, schema.PolicyRenewed{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidFrom: tc.from, ValidTo: tc.to, Document: doc2, RenewedAt: t0.AddDate(1, 0, 0)})
			var v appview.View
			for i, e := range all {
				if err := appview.Apply(&v, recorded(t, i, e, t0)); err != nil {
					t.Fatal(err)
				}
			}
			p := v.Policy
			if v.Status != appview.StatusPolicyActive || p == nil || p.Status != "active" || p.ValidFrom != tc.wantFrom || p.ValidTo != tc.to || p.Document != doc2 {
				t.Fatalf("status %s, policy %+v; want active from %s to %s with document 2", v.Status, p, tc.wantFrom, tc.to)
			}
			if len(v.PastPolicies) != 1 || v.PastPolicies[0].Status != tc.wantPastStatus || v.PastPolicies[0].ValidTo != issued.ValidTo {
				t.Fatalf("past policies %+v; want the first term %s", v.PastPolicies, tc.wantPastStatus)
			}
		})
	}
}

// Past terms are each term alone: renewed early, then expired, then
// renewed after a gap, the cabinet lists the first and the second term
// once each, without the first year twice (lifecycle QA). A renewal that
// brings a new passport puts it on the view.
func TestPastTermsDoNotOverlap(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	evs := benchload.Journey(uuid.NewString(), "alice", 3, t0) // issued 2026-11-26 .. 2027-11-25
	issued := evs[len(evs)-1].(schema.PolicyIssued)
	passport := schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: "FB", Number: "7654321", IssuedAt: "2027-10-01", IssuedBy: "MIA", ExpiresAt: "2037-09-30"}
	all := append(evs,
		schema.PolicyRenewed{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidFrom: "2027-11-26", ValidTo: "2028-11-25",
			Document: schema.PolicyDocument{Number: issued.ENP + "-02", Version: 2, IssuedAt: "2027-11-01"}, IdentityDocument: &passport, RenewedAt: t0.AddDate(0, 11, 5)},
		schema.PolicyExpired{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidTo: "2028-11-25", ExpiredAt: t0.AddDate(2, 0, 0)},
		schema.PolicyRenewed{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidFrom: "2029-01-10", ValidTo: "2030-01-09",
			Document: schema.PolicyDocument{Number: issued.ENP + "-03", Version: 3, IssuedAt: "2029-01-10"}, RenewedAt: t0.AddDate(2, 1, 15)},
	)
	var v appview.View
	for i, e := range all {
		if err := appview.Apply(&v, recorded(t, i, e, t0)); err != nil {
			t.Fatal(err)
		}
		if i == len(evs) { // after the early renewal
			if p := v.Policy; p.ValidFrom != "2026-11-26" || p.TermFrom != "2027-11-26" || v.Form.IdentityDocument != passport {
				t.Fatalf("after the early renewal: %+v, passport %+v", p, v.Form.IdentityDocument)
			}
		}
	}
	type term struct{ from, to, status string }
	var got []term
	for _, p := range v.PastPolicies {
		got = append(got, term{p.ValidFrom, p.ValidTo, p.Status})
	}
	want := []term{{"2026-11-26", "2027-11-25", "superseded"}, {"2027-11-26", "2028-11-25", "expired"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("past terms %+v, want %+v", got, want)
	}
	if p := v.Policy; p.ValidFrom != "2029-01-10" || p.TermFrom != "" || p.Status != "active" {
		t.Fatalf("policy after the late renewal: %+v", p)
	}
}

// A question asked after an approval reopens the review: the approval is
// gone from the view, and the step's diff says it was removed.
func TestAQuestionAfterApprovalReopensTheReview(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	j := benchload.Journey(uuid.NewString(), "alice", 3, t0)
	// submitted, claimed, approved, then asked and answered.
	evs := []schema.Event{j[0], j[1], j[4], j[2], j[3]}
	var v appview.View
	for i, e := range evs {
		before := v
		if err := appview.Apply(&v, recorded(t, i, e, t0)); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 2:
			if v.Decision == nil || v.Decision.Outcome != "approved" {
				t.Fatalf("after the approval: %+v", v.Decision)
			}
		case 3:
			if v.Decision != nil || v.Status != appview.StatusInfoRequested {
				t.Fatalf("after the question: status %s, decision %+v", v.Status, v.Decision)
			}
			diff, err := appview.Diff(&before, &v)
			if err != nil {
				t.Fatal(err)
			}
			removed := false
			for _, c := range diff {
				removed = removed || (c.Path == "/decision" && c.Op == "remove")
			}
			if !removed {
				t.Fatalf("the question's diff does not remove the decision: %+v", diff)
			}
		}
	}
	if v.Status != appview.StatusInReview || v.Decision != nil {
		t.Fatalf("answered: status %s, decision %+v", v.Status, v.Decision)
	}
}
