package admin

import (
	"testing"
	"time"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// A withdrawal is due for erasure only while it is the application's
// last word on the consent: not after a renewal gave the consent again,
// and once, by its latest withdrawal, for one withdrawn twice (QA: a
// person who had consented again was listed as due for erasure).
func TestDueErasureFollowsTheConsentAsItIsNow(t *testing.T) {
	first := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	second := first.AddDate(0, 3, 0)
	now := first.AddDate(1, 0, 0)
	w1 := schema.ConsentWithdrawn{ApplicationID: "a-1", WithdrawnAt: first}
	w2 := schema.ConsentWithdrawn{ApplicationID: "a-1", WithdrawnAt: second}
	view := func(c *appview.Consent) *appview.View {
		return &appview.View{ApplicationID: "a-1", ApplicantID: "alice", Consent: c}
	}
	withdrawn := func(at time.Time) *appview.View { return view(&appview.Consent{WithdrawnAt: at.UTC()}) }

	d, due := dueErasure(w1, withdrawn(first), now)
	if !due || d.ApplicantID != "alice" || d.Basis != schema.EraseConsentWithdrawn || d.EraseBy != "2026-02-09" || !d.Overdue {
		t.Fatalf("a withdrawal that stands: %+v %v", d, due)
	}
	if d, due := dueErasure(w1, view(&appview.Consent{}), now); due {
		t.Errorf("listed after the consent was given again: %+v", d)
	}
	if d, due := dueErasure(w1, withdrawn(second), now); due {
		t.Errorf("the first of two withdrawals listed: %+v", d)
	}
	if _, due := dueErasure(w2, withdrawn(second), now); !due {
		t.Error("the latest of two withdrawals not listed")
	}
	erased := withdrawn(first)
	erased.Erased = &appview.Erasure{}
	if d, due := dueErasure(w1, erased, now); due {
		t.Errorf("listed once erased: %+v", d)
	}
	// A kept record is due from its retention's end on.
	kept := schema.ConsentWithdrawn{ApplicationID: "a-1", WithdrawnAt: first, RetainUntil: "2031-12-31"}
	if r, err := retained(kept, now); err != nil || !r {
		t.Errorf("retained before its end: %v %v", r, err)
	}
	if r, err := retained(kept, time.Date(2032, 1, 1, 12, 0, 0, 0, time.UTC)); err != nil || r {
		t.Errorf("retained after its end: %v %v", r, err)
	}
	if d, due := dueErasure(kept, withdrawn(first), now); !due || d.Basis != schema.EraseRetentionEnded || d.EraseBy != "2032-01-30" {
		t.Errorf("a kept record's erasure: %+v %v", d, due)
	}
}
