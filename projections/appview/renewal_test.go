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
