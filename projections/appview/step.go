package appview

import (
	"strings"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// Step is one event folded into the copy of an application's view that a
// projection keeps for itself.
type Step struct {
	ApplicationID string
	Before, After View
	// Fresh is false when the copy already had the event (a replay after a
	// crash); Before and After are then both the stored view.
	Fresh bool
}

// Next reads the view a projection keeps in coll and folds ev into it.
// ok is false for events outside application streams. Every projection of
// applications starts this way, so the replay rule lives here once.
func Next(tx *runner.Tx, coll string, ev eventstore.Recorded) (st Step, ok bool, err error) {
	id, ok := strings.CutPrefix(ev.Stream, "application-")
	if !ok {
		return Step{}, false, nil
	}
	st.ApplicationID = id
	if tx.StartsStream() {
		// The view of an application is written only by its own stream's
		// events, so before the first one it cannot exist.
		st.Fresh = true
	} else if _, st.Fresh, err = tx.GetJSON(coll, id, &st.Before); err != nil {
		return st, true, err
	}
	st.After = st.Before
	if st.Fresh {
		err = Apply(&st.After, ev) // copies on write, so Before stays as it was
	}
	return st, true, err
}
