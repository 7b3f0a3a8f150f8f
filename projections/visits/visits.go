// Package visits is the read model of МФЦ operators' open visits: one
// document per operator listing the applicants they may act for, and until
// when. An operator's start page lists them, so that one who serves several
// people, or went to another page, goes back to an applicant without the
// id typed again, and ends a visit that is no longer needed instead of
// leaving it open for hours.
//
// The visits themselves are decided in command/visit, from each
// applicant's visit stream; this is only their index by operator. The
// cabinet projection, which reads the same events for the applicant's
// inbox, keeps it: a projection of its own cost every submission 8% more
// CPU and 10 KB more garbage (BenchmarkSubmit, two interleaved pairs), a
// runner following every event for the few that are visits.
package visits

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collection holds one Doc per operator; byApplicant, one Operators per
// applicant: whom an applicant's "end every visit" has to reach.
const (
	Collection  = "visits"
	byApplicant = "visits_by_applicant"
)

// Doc is one operator's visits.
type Doc struct {
	OperatorID string  `json:"operatorId"`
	Visits     []Visit `json:"visits"`
	// Seen is, by applicant, the position of the last event of theirs
	// applied here, while their visit is listed. The document's own
	// position cannot tell a replay: every applicant's visit stream
	// writes it, so one applicant's parked event, replayed after another's
	// moved the document on, was taken for applied and dropped (review:
	// a closed visit stayed listed until its end).
	Seen map[string]uint64 `json:"seen,omitempty"`
}

// Visit is one open visit. A visit past Until is over without an event,
// so readers ask Open.
type Visit struct {
	ApplicantID string    `json:"applicantId"`
	OpenedAt    time.Time `json:"openedAt"`
	Until       time.Time `json:"until"`
}

// Open returns the visits still open at now, the latest opened first: the
// person at the window now is the one the operator looks for.
func (d Doc) Open(now time.Time) []Visit {
	out := []Visit{}
	for _, v := range d.Visits {
		if now.Before(v.Until) {
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b Visit) int { return b.OpenedAt.Compare(a.OpenedAt) })
	return out
}

// Operators lists the operators an applicant's visits were opened with and
// not yet closed.
type Operators struct {
	IDs []string `json:"ids"`
}

// Collections are the index's, in the order they must be written: the
// applicant's list of operators last, so that on MongoDB a crash between
// the two writes leaves it as it was, and the replay reaches every
// operator again.
func Collections() []runner.Collection {
	return []runner.Collection{{Name: Collection, Kind: readstore.KindDocs}, {Name: byApplicant, Kind: readstore.KindDocs}}
}

// Is reports whether ev is one Apply indexes.
func Is(ev eventstore.Recorded) bool {
	return ev.Envelope.Type == schema.TypeVisitOpened || ev.Envelope.Type == schema.TypeVisitClosed
}

// Apply indexes a visit's opening or closing; other events leave the
// index as it is.
func Apply(tx *runner.Tx, ev eventstore.Recorded) error {
	if !Is(ev) {
		return nil
	}
	applicant, ok := strings.CutPrefix(ev.Stream, "visit-")
	if !ok {
		return nil
	}
	pl, err := ev.Payload()
	if err != nil {
		return err
	}
	var ops Operators
	if _, fresh, err := tx.GetJSON(byApplicant, applicant, &ops); err != nil || !fresh {
		// Not fresh: a replay, and the operators' documents, written
		// before this one, have the event too.
		return err
	}
	at := ev.Envelope.OccurredAt
	switch e := pl.(type) {
	case schema.VisitOpened:
		if err := update(tx, e.OperatorID, applicant, at, func(vs []Visit) []Visit {
			return append(without(vs, applicant), Visit{ApplicantID: applicant, OpenedAt: e.OpenedAt.UTC(), Until: e.Until.UTC()})
		}); err != nil {
			return err
		}
		if !slices.Contains(ops.IDs, e.OperatorID) {
			ops.IDs = append(slices.Clone(ops.IDs), e.OperatorID)
		}
	case schema.VisitClosed:
		closed := ops.IDs
		if e.OperatorID != "" {
			closed = []string{e.OperatorID} // one operator's; the others stay
		}
		for _, op := range closed {
			if err := update(tx, op, applicant, at, func(vs []Visit) []Visit { return without(vs, applicant) }); err != nil {
				return err
			}
		}
		ops.IDs = slices.DeleteFunc(slices.Clone(ops.IDs), func(id string) bool { return slices.Contains(closed, id) })
	default:
		return fmt.Errorf("visits: %s holds %T", ev.Envelope.Type, pl)
	}
	if ops.IDs == nil {
		ops.IDs = []string{}
	}
	return tx.Put(byApplicant, applicant, ops, nil)
}

// update changes one operator's visits by an event of applicant's, unless
// the operator's document has it already (a replay after a crash), and
// drops the visits that had ended by the event: an operator's list would
// otherwise grow with every person ever served.
//
// An applicant whose visit leaves the list leaves Seen too, so that it
// does not grow either. Their events replayed later find no record here:
// a close then removes nothing, and an open is stopped by the applicant's
// own document (Apply), which a later event of theirs has moved on; with
// none later it is the visit's one event, and its entry is right.
func update(tx *runner.Tx, operator, applicant string, at time.Time, change func([]Visit) []Visit) error {
	var doc Doc
	if _, _, err := tx.GetJSON(Collection, operator, &doc); err != nil {
		return err
	}
	if doc.Seen[applicant] >= tx.Position() {
		return nil
	}
	vs := slices.DeleteFunc(slices.Clone(doc.Visits), func(v Visit) bool { return !at.Before(v.Until) })
	vs = change(vs)
	if vs == nil {
		vs = []Visit{}
	}
	seen := make(map[string]uint64, len(vs))
	for _, v := range vs {
		if v.ApplicantID == applicant {
			seen[applicant] = tx.Position()
		} else if p, ok := doc.Seen[v.ApplicantID]; ok {
			seen[v.ApplicantID] = p
		}
	}
	return tx.Put(Collection, operator, Doc{OperatorID: operator, Visits: vs, Seen: seen}, nil)
}

// without is vs less the visit with applicant; vs is update's own copy.
func without(vs []Visit, applicant string) []Visit {
	return slices.DeleteFunc(vs, func(v Visit) bool { return v.ApplicantID == applicant })
}
