package cabinet

import (
	"slices"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/appview"
)

// The cabinet offers what the command side would accept: renewal only
// once its window opened (the reminder), nothing on an erased
// application.
func TestActionsOf(t *testing.T) {
	active := func(reminded bool) *appview.View {
		return &appview.View{Status: appview.StatusPolicyActive, Policy: &appview.Policy{Status: "active", RenewalReminded: reminded},
			Consent: &appview.Consent{}}
	}
	withdrawn := active(true)
	withdrawn.Consent = &appview.Consent{WithdrawnAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	erased := active(true)
	erased.Erased = &appview.Erasure{}
	for name, tc := range map[string]struct {
		v    *appview.View
		want []string
	}{
		"active, window not open": {active(false), []string{"change-address", "withdraw-consent"}},
		"active, reminded":        {active(true), []string{"change-address", "renew", "withdraw-consent"}},
		"expired":                 {&appview.View{Status: appview.StatusPolicyExpired}, []string{"renew"}},
		"consent withdrawn":       {withdrawn, []string{"change-address", "renew"}},
		"erased":                  {erased, []string{}},
		"in review":               {&appview.View{Status: appview.StatusInReview}, []string{"withdraw"}},
	} {
		if got := actionsOf(tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	// The table is not changed by a call.
	if !slices.Contains(actions[appview.StatusPolicyActive], "renew") {
		t.Fatal("actionsOf changed the shared table")
	}
}
