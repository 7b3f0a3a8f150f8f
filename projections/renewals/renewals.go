// Package renewals keeps the timetable of what the system owes each active
// policy: a renewal reminder when the renewal window opens, then expiry the
// day after the term ends. It is a queue-kind collection keyed by that due
// time, so the scheduler asks "what is overdue now" with the same indexed
// query the reviewer queue uses, instead of scanning every policy.
package renewals

import (
	"context"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collection is the timetable.
const Collection = "renewals"

// What the system owes.
const (
	DueRemind = "remind"
	DueExpire = "expire"
)

// WindowDays is how long before the end of a term renewal opens; the
// domain's default.
const WindowDays = 30

// Location is where a term's dates are reckoned: Moscow time.
var Location = time.FixedZone("MSK", 3*60*60)

// Item is one timetable entry.
type Item struct {
	ApplicationID string    `json:"applicationId"`
	Due           string    `json:"due"` // remind or expire
	At            time.Time `json:"at"`
	ValidTo       string    `json:"validTo"`
}

// Projection builds the timetable.
type Projection struct{}

// Name implements runner.Projection.
func (Projection) Name() string { return "renewals" }

// Collections implements runner.Projection; the view is the state, last.
// An item is derived from the view every time and never read back, so it
// stays out of the runner's cache.
func (Projection) Collections() []runner.Collection {
	return []runner.Collection{{Name: Collection, Kind: readstore.KindQueue, Uncached: true}, {Name: "renewals_views", Kind: readstore.KindDocs}}
}

// Apply implements runner.Projection.
func (Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	st, ok, err := appview.NextSlim(tx, "renewals_views", ev)
	if !ok || err != nil || !st.Fresh {
		return err
	}
	appID, v := st.ApplicationID, st.After
	if v.Status != appview.StatusPolicyActive || v.Policy == nil {
		if v.Status == appview.StatusPolicyExpired || appview.Open(v.Status) {
			// Kept: a renewal or an issue may follow.
			if err := tx.Put("renewals_views", appID, v, nil); err != nil {
				return err
			}
		} else if err := tx.Delete("renewals_views", appID); err != nil {
			return err
		}
		return tx.Delete(Collection, appID)
	}
	if err := tx.Put("renewals_views", appID, v, nil); err != nil {
		return err
	}
	validTo, err := time.ParseInLocation(time.DateOnly, v.Policy.ValidTo, Location)
	if err != nil {
		return err
	}
	it := Item{ApplicationID: appID, ValidTo: v.Policy.ValidTo, Due: DueExpire, At: validTo.AddDate(0, 0, 1)}
	if !v.Policy.RenewalReminded {
		it.Due, it.At = DueRemind, validTo.AddDate(0, 0, -WindowDays)
	}
	return tx.Put(Collection, appID, it, &readstore.QueueFields{Status: it.Due, Deadline: it.At})
}
