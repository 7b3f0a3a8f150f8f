package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// closer counts Ticks like counter and deletes the stream's document on a
// Close, as a projection drops a withdrawn application's view.
// closer counts Ticks like counter and deletes a stream's document on
// "Close", as the queue deletes the item of a closed application.
type closer struct{ counter }

func (c *closer) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type == "Close" {
		return tx.Delete("counts", ev.Stream)
	}
	return c.counter.Apply(ctx, tx, ev)
}

// A parked event replayed after a later event deleted its document brings
// the document back: a delete leaves no position behind, so the replay
// finds nothing, takes itself for new, and writes a document that a
// rebuild from position 0 does not have.
// A parked event whose stream went on in the projection is not replayed:
// behind the later events it would be a no-op on the document they wrote,
// and one they deleted it brought back (a closed application's queue item
// in the queue again). It stays parked, and the replay says to rebuild.
func TestReplayedParkedEventDoesNotResurrectADeletedDocument(t *testing.T) {
	c := &closer{}
	c.broken.Store(true)
	g := start(t, c)
	g.tick(t, "s", false)
	g.tick(t, "s", true) // parked
	res, err := g.events.Append(context.Background(), "s", eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
		eventstore.NewEvent{Type: "Close", Data: map[string]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, g.runner, res.Position)
	if _, err := g.store.Get(context.Background(), "counts", "s"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("before the replay: %v, want the document deleted", err)
	}
	c.broken.Store(false)
	n, err := g.runner.ReplayParked(context.Background(), "counter")
	var sup *runner.SupersededError
	if n != 0 || !errors.As(err, &sup) || sup.Skipped != 1 {
		t.Fatalf("replay: %d %v, want none replayed and one superseded", n, err)
	}
	if left, _ := g.events.ListParked(context.Background(), eventstore.ParkedStream); len(left) != 1 {
		t.Fatalf("%d parked after the replay, want the superseded one still there", len(left))
	}
	if d, err := g.store.Get(context.Background(), "counts", "s"); !errors.Is(err, readstore.ErrNotFound) {
		t.Errorf("after the replay the deleted document is back: %s at %d (err %v)", d.Body, d.Position, err)
	}
}
