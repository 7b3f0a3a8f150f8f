package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// forgetful counts Ticks like applies, and on a Forget event tells the
// runner, wrongly, that its stream's document was never written.
type forgetful struct{ applies }

func (f *forgetful) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type == "Forget" {
		if err := tx.Unwritten("counts", ev.Stream); err != nil {
			return err
		}
		f.n.Add(1)
		return nil
	}
	return f.applies.Apply(ctx, tx, ev)
}

func (g *rig) forget(t *testing.T, stream string) uint64 {
	t.Helper()
	res, err := g.events.Append(context.Background(), stream, eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
		eventstore.NewEvent{Type: "Forget", Data: map[string]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

// A note that a document was never written is taken only where the runner
// does not know the document: not over one in the batch, in the flush on
// its way to the store, or in the cache. Notes are read after all three,
// so a wrong one shows once the document has left memory (pushed out of a
// small cache here): the next event would build on nothing, and the count
// would start again from 1.
func TestUnwrittenLeavesKnownDocumentsAlone(t *testing.T) {
	store := openGated(t)
	store.gate = make(chan struct{})
	p := &forgetful{}
	g := startOn(t, store, store.Store, runner.Options{FlushInterval: 5 * time.Millisecond, FlushGap: time.Millisecond, CacheBytes: 600}, p)
	r := g.runner
	release := releaser(t, store)

	g.tick(t, "held", false)
	awaitHeld(t, store)
	r.DropCaches() // "held" is only in the flush waiting at the gate now
	g.forget(t, "held")
	g.tick(t, "batch", false) // in the batch, behind the held flush
	for i := range 4 {
		g.tick(t, fmt.Sprintf("pusher-%d", i), false) // its lookup's entry leaves the cache
	}
	g.forget(t, "batch")
	awaitApplied(t, &p.applies, 8)
	release()
	waitFor(t, r, g.tick(t, "cached", false))
	g.forget(t, "cached")
	for i := range 20 {
		waitFor(t, r, g.tick(t, fmt.Sprintf("other-%d", i), false))
	}
	g.tick(t, "held", false)
	g.tick(t, "batch", false)
	waitFor(t, r, g.tick(t, "cached", false))
	for stream, want := range map[string]int{"held": 2, "cached": 2, "batch": 2} {
		if n := g.count(t, stream); n != want {
			t.Errorf("%s counted %d, want %d", stream, n, want)
		}
	}
}

// A write takes the note back: once the document has left a small cache,
// its next event reads it from the store instead of trusting the note.
func TestWriteTakesTheNoteBack(t *testing.T) {
	store := openGated(t)
	g := startOn(t, store, store.Store, runner.Options{CacheBytes: 600, FlushInterval: time.Millisecond}, &forgetful{})
	g.forget(t, "noted")
	waitFor(t, g.runner, g.tick(t, "noted", false))
	for i := range 20 {
		waitFor(t, g.runner, g.tick(t, fmt.Sprintf("other-%d", i), false))
	}
	waitFor(t, g.runner, g.tick(t, "noted", false))
	if n := g.count(t, "noted"); n != 2 {
		t.Fatalf("noted counted %d, want 2", n)
	}
}
