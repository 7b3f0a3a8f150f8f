// Package queue builds the reviewer queue: one document per open
// application with the applicant summary, status, assignee and the SLA
// deadline in working days. The deadline is counted by the Russian
// production calendar as the Civil Code counts terms. The clock stops
// while the application waits on the applicant, and once it is approved:
// the seed's 5-10 working days run until «Одобрено» or «Требуется
// дополнительная информация», so an approved application waiting for its
// policy is not late for review.
package queue

import (
	"context"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collection is the queue's logical collection.
const Collection = "queue"

// msk is the offset deadlines are reckoned in; dates in Russia's
// territorial funds follow Moscow time.
var msk = time.FixedZone("MSK", 3*60*60)

// Item is one queue document.
type Item struct {
	ApplicationID string           `json:"applicationId"`
	ApplicantID   string           `json:"applicantId"`
	Applicant     ApplicantSummary `json:"applicant"`
	Status        string           `json:"status"`
	SubmittedAt   time.Time        `json:"submittedAt"`
	Assignee      string           `json:"assignee,omitempty"`
	Waiting       bool             `json:"waitingOnApplicant"`
	// Stopped: the clock is not running, because the application waits on
	// the applicant or has been approved. RemainingDays holds what was left.
	Stopped       bool      `json:"clockStopped,omitempty"`
	Region        string    `json:"region"`
	ResidenceType string    `json:"residenceType"`
	Deadline      time.Time `json:"deadline"` // end of the deadline day, MSK
	DeadlineDate  string    `json:"deadlineDate"`
	Provisional   bool      `json:"deadlineProvisional,omitempty"`
	SLADays       int       `json:"slaDays"`
	RemainingDays int       `json:"remainingAtPause,omitempty"` // working days left when the clock stopped, negative if overdue
	Revision      uint64    `json:"revision"`
}

// ApplicantSummary is what a reviewer sees in a queue row.
type ApplicantSummary struct {
	LastName    string `json:"lastName"`
	FirstName   string `json:"firstName"`
	MiddleName  string `json:"middleName,omitempty"`
	BirthDate   string `json:"birthDate"`
	Citizenship string `json:"citizenship"`
}

// Projection builds the queue.
type Projection struct {
	Calendar *calendar.Calendar
	// SLADays is the review deadline in working days (the seed says 5-10).
	SLADays int
}

// Name implements runner.Projection.
func (Projection) Name() string { return "queue" }

// Collections implements runner.Projection.
func (Projection) Collections() []runner.Collection {
	return []runner.Collection{{Name: Collection, Kind: readstore.KindQueue}, {Name: "queue_views", Kind: readstore.KindDocs}}
}

// endOfDay is 23:59:59.999 MSK of t's Moscow date: a term expires at the
// end of its last day.
func endOfDay(t time.Time) time.Time {
	d := t.In(msk)
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, int(999*time.Millisecond), msk)
}

// Apply implements runner.Projection.
func (p Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	st, ok, err := appview.NextSlim(tx, "queue_views", ev)
	if !ok || err != nil || !st.Fresh {
		return err
	}
	appID, prev, v := st.ApplicationID, st.Before.Status, st.After
	if !appview.Open(v.Status) {
		// Closed applications leave the queue; the view is kept only while
		// later events may still concern the queue, which they do not.
		if err := tx.Delete("queue_views", appID); err != nil {
			return err
		}
		return tx.Delete(Collection, appID)
	}
	if err := tx.Put("queue_views", appID, v, nil); err != nil {
		return err
	}
	var item Item
	// Only the application's own events write its item, so before its
	// first one there is nothing to read.
	if !tx.StartsStream() {
		_, itemFresh, err := tx.GetJSON(Collection, appID, &item)
		if err != nil {
			return err
		}
		if !itemFresh {
			return nil // the item has this event already; only the view lagged
		}
	}
	at := ev.Envelope.OccurredAt
	cal := p.Calendar
	if cal == nil {
		cal = calendar.Default()
	}
	sla := p.SLADays
	if sla <= 0 {
		sla = 10
	}
	switch {
	case prev == "" && v.Status == appview.StatusSubmitted:
		d, prov := cal.AddWorkingDays(v.SubmittedAt.In(msk), sla)
		item.Deadline, item.Provisional, item.SLADays = endOfDay(d), prov, sla
	case stops(v.Status) && !stops(prev):
		// Stop the clock: remember what was left, or by how much it was
		// overdue already, so that it restarts as late as it stopped. From
		// approved to info requested it stays stopped with what approval
		// left (the reviewer reopened a decision that was in time).
		item.RemainingDays = cal.WorkingDaysBetween(at.In(msk), item.Deadline)
		if at.After(item.Deadline) && item.RemainingDays >= 0 {
			// Late already, on a day off after the deadline (a Saturday
			// after a Friday's): no working day lies between them, and 0
			// would restart the clock with the answer's day as a fresh
			// deadline. It stays late (time QA).
			item.RemainingDays = -1
		}
	case stops(prev) && !stops(v.Status):
		// Restart it with what was left, counted from the answer.
		d, prov := restart(cal, at.In(msk), item.RemainingDays)
		// A pause stops the clock and never winds it back. Asked late on a
		// day off, before any working day of lateness, the pause keeps -1
		// to stay late, and an answer in the same days off would count
		// that day again, a working day before the old deadline.
		nd := endOfDay(d)
		if nd.Before(item.Deadline) {
			nd = item.Deadline
		}
		item.Deadline, item.Provisional = nd, item.Provisional || prov
		item.RemainingDays = 0
	}
	item.ApplicationID, item.ApplicantID, item.Status = appID, v.ApplicantID, v.Status
	a := v.Form.Applicant
	item.Applicant = ApplicantSummary{LastName: a.LastName, FirstName: a.FirstName, MiddleName: a.MiddleName, BirthDate: a.BirthDate, Citizenship: a.Citizenship}
	item.SubmittedAt, item.Assignee = v.SubmittedAt, v.Assignee
	item.Waiting = v.Status == appview.StatusInfoRequested
	item.Stopped = stops(v.Status)
	item.Region, item.ResidenceType = v.Form.Address.Region, v.Form.ResidenceDocument.Type
	item.DeadlineDate = item.Deadline.In(msk).Format(time.DateOnly)
	item.Revision = v.Revision
	return tx.Put(Collection, appID, item, &readstore.QueueFields{
		Status: item.Status, Assignee: item.Assignee, Region: item.Region, Deadline: SortKey(item), Waiting: item.Stopped,
	})
}

// restart is the deadline of a clock restarted at with left working days.
// Days left count from the answer as a term does (the day itself is not
// counted, so Friday's answer and Saturday's give the same deadline). Days
// overdue count back from the last working day on or before the answer:
// counted back from a day off itself, the working day before it was one of
// the days late, and an overdue application answered on a Saturday or a
// holiday came back a day less late than one answered the working day
// before (queue QA).
func restart(cal *calendar.Calendar, at time.Time, left int) (time.Time, bool) {
	if left >= 0 {
		return cal.AddWorkingDays(at, left)
	}
	// The first working day before the next day is the last one on or
	// before at; |left| more before it is the new deadline.
	return cal.AddWorkingDays(at.AddDate(0, 0, 1), left-1)
}

// waitingBase is where the sort keys of applications waiting on their
// applicants start: after every real deadline, and early enough for the
// stores' nanosecond deadlines (which end in 2262).
var waitingBase = time.Date(2200, time.January, 1, 0, 0, 0, 0, time.UTC)

// SortKey is the queue's order, what the store indexes as the deadline.
// While an application waits on its applicant it has no deadline that
// stays put: the date an answer would
// give moves a working day later with each working day of waiting (see
// DeadlineAt), so the stored one sorted it among running deadlines with a
// date the row no longer showed (queue QA). Such applications come after
// every running one instead, the most overdue, then those with the fewest
// days left, first. An approved application's clock stands too, but its
// deadline stays what it was, and so does its place.
func SortKey(it Item) time.Time {
	if !it.Waiting {
		return it.Deadline
	}
	return waitingBase.AddDate(0, 0, it.RemainingDays)
}

// stops reports whether the review clock stands still in status.
func stops(status string) bool {
	return status == appview.StatusInfoRequested || status == appview.StatusApproved
}

// clockStopped also reads items written before Stopped was recorded,
// which stopped only while waiting.
func clockStopped(it Item) bool { return it.Stopped || it.Waiting }

// Decided reports whether the review term is over because the
// application was approved.
func (it Item) Decided() bool { return it.Stopped && !it.Waiting }

// Remaining is the working days left until the deadline at now (negative
// when overdue); while the clock stands it is the frozen count.
func Remaining(cal *calendar.Calendar, it Item, now time.Time) int {
	if clockStopped(it) {
		return it.RemainingDays
	}
	left := cal.WorkingDaysBetween(now.In(msk), it.Deadline)
	if left >= 0 && now.After(it.Deadline) {
		// Late, on days off after the deadline (a weekend, the New Year
		// holidays): no working day between them, yet late, as a pause
		// then would count it (audit QA: 0 days left and overdue).
		return -1
	}
	return left
}

// DeadlineAt is the deadline's date (Moscow time) as it stands at now:
// the item's own, except while the application waits on its applicant
// with days left, when the date it would be if the answer came now. A
// stored date would be a day that has nothing to do with the
// application any more, moving a day later with each working day of
// waiting.
func DeadlineAt(cal *calendar.Calendar, it Item, now time.Time) (date string, provisional bool) {
	it = AsOf(cal, it, now)
	return it.DeadlineDate, it.Provisional
}

// AsOf is the item as a reader sees it at now: while the application
// waits on its applicant with days left, its deadline, as a date and as
// the end of that day, is the one an answer now would give (see
// DeadlineAt); the stored one would disagree with the date shown.
func AsOf(cal *calendar.Calendar, it Item, now time.Time) Item {
	if !it.Waiting || it.RemainingDays < 0 {
		return it
	}
	d, prov := cal.AddWorkingDays(now.In(msk), it.RemainingDays)
	it.Deadline, it.Provisional = endOfDay(d), it.Provisional || prov
	it.DeadlineDate = it.Deadline.Format(time.DateOnly)
	return it
}

// Overdue reports whether the deadline has passed at now with the clock
// running.
func Overdue(it Item, now time.Time) bool { return !clockStopped(it) && now.After(it.Deadline) }
