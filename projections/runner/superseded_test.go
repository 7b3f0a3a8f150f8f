package runner_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// closer counts Ticks like counter and deletes a stream's document on
// "Close", as the queue deletes the item of a closed application.
type closer struct{ counter }

func (c *closer) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type == "Close" {
		return tx.Delete("counts", ev.Stream)
	}
	return c.counter.Apply(ctx, tx, ev)
}

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
	g.replaySuperseded(t)
	if d, err := g.store.Get(context.Background(), "counts", "s"); !errors.Is(err, readstore.ErrNotFound) {
		t.Errorf("after the replay the deleted document is back: %s at %d (err %v)", d.Body, d.Position, err)
	}
}

// Two parked events of one stream, and nothing applied after them in it,
// are both replayed, in their order: the second is not taken for a later
// event already applied, which left the first parked and replayed the
// second without it.
func TestParkedEventsOfOneStreamReplayInOrder(t *testing.T) {
	c := &closer{}
	c.broken.Store(true)
	g := start(t, c)
	g.tick(t, "s", false)
	g.tick(t, "s", true)
	g.tick(t, "s", true)
	waitFor(t, g.runner, g.tick(t, "t", false))
	c.broken.Store(false)
	if n, err := g.runner.ReplayParked(context.Background(), "counter"); n != 2 || err != nil {
		t.Fatalf("replay: %d %v, want both", n, err)
	}
	if n := g.count(t, "s"); n != 3 {
		t.Fatalf("s counts %d, want 3 as a rebuild would", n)
	}
}

// noting is counter noting the position of the last event it applied.
type noting struct {
	counter
	last atomic.Uint64
}

func (c *noting) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if err := c.counter.Apply(ctx, tx, ev); err != nil {
		return err
	}
	c.last.Store(ev.Position)
	return nil
}

// A later event of the parked one's stream that is applied but not yet
// flushed supersedes it as a flushed one does: checked against the
// checkpoint alone, the replay met the document that event had moved on,
// did nothing, and counted the message as replayed (review).
func TestAParkedEventIsSupersededByAnUnflushedLaterOne(t *testing.T) {
	c := &noting{}
	c.broken.Store(true)
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := startOn(t, st, st, runner.Options{Retries: 2, FlushInterval: time.Hour, BatchSize: 1000}, c)
	g.tick(t, "s", false)
	g.tick(t, "s", true) // parked
	third := g.tick(t, "s", false)
	deadline := time.Now().Add(10 * time.Second)
	for c.last.Load() < third {
		if time.Now().After(deadline) {
			t.Fatal("the third tick was never applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.broken.Store(false)
	g.replaySuperseded(t)
}

// replaySuperseded replays the parked messages and wants the one there is
// left parked as superseded, with nothing replayed.
func (g *rig) replaySuperseded(t *testing.T) {
	t.Helper()
	n, err := g.runner.ReplayParked(context.Background(), "counter")
	var sup *runner.SupersededError
	if n != 0 || !errors.As(err, &sup) || sup.Skipped != 1 {
		t.Fatalf("replay: %d %v, want none replayed and one superseded", n, err)
	}
	if left, _ := g.events.ListParked(context.Background(), eventstore.ParkedStream); len(left) != 1 {
		t.Fatalf("%d parked after the replay, want the superseded one still there", len(left))
	}
}
