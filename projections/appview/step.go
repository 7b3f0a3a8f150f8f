package appview

import (
	"strings"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// Step is one event folded into the copy of an application's view that a
// projection keeps for itself.
//
// Before and After are pointers, never nil, and what they point to is
// shared with the runner's batch and cache: a projection reads them and
// may Put After as its document, but changes neither (copy first). Views
// travel as pointers because a View is some 750 bytes: passing one by
// value into Put or Diff boxed a copy each time, three per event per
// projection, and that garbage was the largest single cost of a rebuild.
type Step struct {
	ApplicationID string
	Before, After *View
	// Fresh is false when the copy already had the event (a replay after a
	// crash); Before and After are then both the stored view.
	Fresh bool
	// Created is true when the event is the first the copy gets: Before is
	// then an empty view standing for none (see Created).
	Created bool
}

// none is the view before an application's first event. Steps hand it out
// to every projection, which is safe only because nobody writes to it.
var none View

// Next reads the view a projection keeps in coll and folds ev into it.
// ok is false for events outside application streams. Every projection of
// applications starts this way, so the replay rule lives here once.
func Next(tx *runner.Tx, coll string, ev eventstore.Recorded) (st Step, ok bool, err error) {
	return next(tx, coll, ev, false)
}

// NextSlim is Next for a projection that keeps its views slim (see Slim):
// After is slimmed, so what the projection derives from it and what it
// stores are the same, and a field it should not rely on reads as empty in
// its tests instead of only in production. Before is as stored, which a
// view written before slimming existed may still be in full.
func NextSlim(tx *runner.Tx, coll string, ev eventstore.Recorded) (st Step, ok bool, err error) {
	return next(tx, coll, ev, true)
}

func next(tx *runner.Tx, coll string, ev eventstore.Recorded, slim bool) (st Step, ok bool, err error) {
	id, ok := strings.CutPrefix(ev.Stream, "application-")
	if !ok {
		return Step{}, false, nil
	}
	st.ApplicationID = id
	if tx.StartsStream() {
		// The view of an application is written only by its own stream's
		// events, so before the first one it cannot exist.
		st.Fresh = true
	} else {
		var exists bool
		if exists, st.Fresh, err = tx.GetJSON(coll, id, &st.Before); err != nil {
			return st, true, err
		}
		if !exists {
			st.Before = nil
		}
	}
	if st.Before == nil {
		st.Before = &none
		st.Created = st.Fresh
	}
	st.After = st.Before
	if st.Fresh {
		after := *st.Before
		err = Apply(&after, ev) // copies on write, so Before stays as it was
		if slim {
			Slim(&after)
		}
		st.After = &after
	}
	return st, true, err
}
