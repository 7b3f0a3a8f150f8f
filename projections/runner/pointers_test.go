package runner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// pointers keeps its counts as *count, the way projections keep their
// application views, but reads them back by value on odd counts and by
// pointer on even ones, so that both kinds of read meet both kinds of
// stored value: a pointer put in this batch and JSON read from the store.
type pointers struct{}

func (pointers) Name() string { return "counter" }
func (pointers) Collections() []runner.Collection {
	return []runner.Collection{{Name: "counts", Kind: readstore.KindDocs}}
}

func (pointers) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	var n int
	var byValue count
	exists, fresh, err := tx.GetJSON("counts", ev.Stream, &byValue)
	if err != nil || !fresh {
		return err
	}
	n = byValue.N
	if exists && n%2 == 0 {
		var byPointer *count
		if _, _, err := tx.GetJSON("counts", ev.Stream, &byPointer); err != nil {
			return err
		}
		if byPointer == nil || *byPointer != byValue {
			return fmt.Errorf("read by pointer %v, by value %v", byPointer, byValue)
		}
	}
	return tx.Put("counts", ev.Stream, &count{N: n + 1}, nil)
}

// A document put as a pointer reads back as the value it points to and as
// the pointer, in the batch and after a flush; a wrong read would count
// wrong or park the event.
func TestPointerDocumentsReadBackAsValuesAndPointers(t *testing.T) {
	g := start(t, pointers{})
	var last uint64
	for i := range 7 {
		last = g.tick(t, "s-1", false)
		if i == 3 {
			waitFor(t, g.runner, last) // later reads start from the store's JSON
		}
	}
	waitFor(t, g.runner, last)
	if n := g.count(t, "s-1"); n != 7 {
		t.Fatalf("count = %d, want 7", n)
	}
	parked, err := g.events.ListParked(context.Background(), eventstore.ParkedStream)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 0 {
		t.Fatalf("parked: %+v", parked)
	}
}
