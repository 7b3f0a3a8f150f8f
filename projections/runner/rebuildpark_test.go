package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// A rebuild meets a parked event as the live handler met it: it parks
// what it cannot apply and goes on, so one bad event does not keep the
// projection from ever being rebuilt; an event parked already is not
// parked twice; and a rebuild after the fix applies the parked events and
// takes them off the list, so a replay cannot apply them twice.
func TestRebuildParksAndGoesOn(t *testing.T) {
	ctx := context.Background()
	c := &counter{}
	c.broken.Store(true)
	g := start(t, c)
	g.tick(t, "s-1", false)
	g.tick(t, "s-2", true) // parked by the live handler
	waitFor(t, g.runner, g.tick(t, "s-1", false))
	// Applied live before a bug came in: the rebuild is the first to fail
	// on it.
	c.broken.Store(false)
	waitFor(t, g.runner, g.tick(t, "s-3", true))
	c.broken.Store(true)

	parked := func() map[string]int {
		t.Helper()
		list, err := g.events.ListParked(ctx, eventstore.ParkedStream)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]int{}
		for _, p := range list {
			if p.Handler() != "counter" || p.Reason() == "" {
				t.Fatalf("parked %+v", p)
			}
			by[p.Message.Metadata[eventstore.MetaStream]]++
		}
		return by
	}
	if _, err := g.runner.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatalf("rebuild with a parked event failed: %v", err)
	}
	if n1, n2, n3 := g.count(t, "s-1"), g.count(t, "s-2"), g.count(t, "s-3"); n1 != 2 || n2 != 0 || n3 != 0 {
		t.Fatalf("rebuilt while broken: s-1 %d, s-2 %d, s-3 %d; want 2, 0, 0", n1, n2, n3)
	}
	if p := parked(); len(p) != 2 || p["s-2"] != 1 || p["s-3"] != 1 {
		t.Fatalf("parked after the rebuild: %v, want s-2 and s-3 once each", p)
	}
	// Again, still broken: nothing is parked twice.
	if _, err := g.runner.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if p := parked(); len(p) != 2 || p["s-2"] != 1 || p["s-3"] != 1 {
		t.Fatalf("parked after a second rebuild: %v", p)
	}
	// Fixed: the rebuild includes them and they leave the list.
	c.broken.Store(false)
	if _, err := g.runner.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if n2, n3 := g.count(t, "s-2"), g.count(t, "s-3"); n2 != 1 || n3 != 1 {
		t.Fatalf("rebuilt after the fix: s-2 %d, s-3 %d; want 1 each", n2, n3)
	}
	if p := parked(); len(p) != 0 {
		t.Fatalf("still parked after a rebuild that applied them: %v", p)
	}
	if n, err := g.runner.ReplayParked(ctx, "counter"); err != nil || n != 0 {
		t.Fatalf("replay after the rebuild: %d %v", n, err)
	}
	if n2 := g.count(t, "s-2"); n2 != 1 {
		t.Fatalf("s-2 counted %d after the replay, want 1", n2)
	}
}
