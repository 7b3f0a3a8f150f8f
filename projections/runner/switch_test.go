package runner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// stores opens an embedded event store and a SQLite read store for a
// test, closed at its end.
func stores(t *testing.T) (*eventstore.Store, *sqlitestore.Store) {
	t.Helper()
	es := esdbtest.Store(t, eventstore.Options{})
	base, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	return es, base
}

// ticks appends n Ticks over three streams (s-0, s-1, s-2, s-0, …) and
// waits until the runner has applied them; it returns the last position.
func (g *rig) ticks(t *testing.T, n int) uint64 {
	t.Helper()
	var last uint64
	for i := range n {
		last = g.tick(t, fmt.Sprintf("s-%d", i%3), false)
	}
	waitFor(t, g.runner, last)
	return last
}

// runOn starts a runner over existing stores, as omsd does at start-up,
// writing through store (base, or a wrapper of it), and returns it with
// what stops it. It runs the counter unless given projections.
func runOn(t *testing.T, es *eventstore.Store, store readstore.Store, base *sqlitestore.Store, ps ...runner.Projection) (*runner.Runner, func()) {
	t.Helper()
	if len(ps) == 0 {
		ps = []runner.Projection{&counter{}}
	}
	r, err := runner.New(context.Background(), runner.Options{Store: store, Events: es, FlushInterval: 5 * time.Millisecond,
		Subscriber: eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	<-r.Running()
	var stopped bool
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := r.Close(); err != nil {
				t.Errorf("close the runner: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return r, stop
}

// When Rebuild returns, its switch is in the store: the projection's own
// checkpoint names the new generation at the live position. A rebuild on a
// quiet system had no tail of events to flush at the switch and wrote no
// checkpoint at all; the next restart took the old generation's, whose
// collections the switch drops, and went on from its position over empty
// ones: every document applied before was gone.
func TestRebuildSwitchIsStoredWhenItReturns(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	r, stop := runOn(t, es, base, base)
	g := &rig{events: es, store: base, runner: r}
	last := g.ticks(t, 15)
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	cps, err := base.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got readstore.Checkpoint
	for _, cp := range cps {
		if cp.Projection == "counter" {
			got = cp
		}
	}
	if got.Generation != 2 || got.Position != last {
		t.Fatalf("after the rebuild the store's checkpoint is generation %d at %d, want 2 at %d", got.Generation, got.Position, last)
	}
	if pos, _ := r.Position("counter"); pos != last {
		t.Fatalf("after the rebuild the runner is at %d, want %d", pos, last)
	}

	// Restart once the old generation is gone, as it is DropDelay
	// after the switch.
	stop()
	if err := base.DropCollection(ctx, "counts_g1"); err != nil {
		t.Fatal(err)
	}
	g.restarted(t, es, base, map[string]int{"s-0": 5, "s-1": 6, "s-2": 5})
}

// restarted runs a new runner over the stores, as omsd after a restart,
// ticks s-1 once more, and checks that each stream counts what want says.
func (g *rig) restarted(t *testing.T, es *eventstore.Store, base *sqlitestore.Store, want map[string]int) {
	t.Helper()
	r, _ := runOn(t, es, base, base)
	g.runner = r
	waitFor(t, r, g.tick(t, "s-1", false))
	for s, n := range want {
		if c := g.count(t, s); c != n {
			t.Errorf("after the restart %s counts %d, want %d", s, c, n)
		}
	}
}

// A restart drops what a rebuild left behind when the process ended: the
// old generation, whose drop waits DropDelay after the switch, and the
// half-built one of a rebuild that died (ops QA: both stayed for good,
// with personal data no erasure reached).
func TestARestartDropsTheGenerationsARebuildLeft(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	r, stop := runOn(t, es, base, base)
	g := &rig{events: es, store: base, runner: r}
	g.ticks(t, 9)
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	stop()
	// A rebuild that died half-way through generation 3.
	if err := base.EnsureCollection(ctx, "counts_g3", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	if err := base.Flush(ctx, []readstore.Write{{Collection: "counts_g3", Doc: readstore.Doc{ID: "s-0", Position: 1, Body: []byte(`{"n":1}`)}}},
		readstore.Checkpoint{Projection: "counter~rebuild", Generation: 3, Position: 1}); err != nil {
		t.Fatal(err)
	}
	for _, phys := range []string{"counts_g1", "counts_g3"} {
		if _, err := base.GetPhysical(ctx, phys, "s-0"); err != nil {
			t.Fatalf("before the restart %s: %v; this test tests nothing", phys, err)
		}
	}
	g.restarted(t, es, base, map[string]int{"s-0": 3, "s-1": 4, "s-2": 3})
	for _, phys := range []string{"counts_g1", "counts_g3"} {
		if _, err := base.GetPhysical(ctx, phys, "s-0"); !errors.Is(err, readstore.ErrNoCollection) {
			t.Errorf("after the restart %s: %v, want it dropped", phys, err)
		}
	}
	if _, err := base.GetPhysical(ctx, "counts_g2", "s-0"); err != nil {
		t.Errorf("the live generation after the restart: %v", err)
	}
}

// slowCounter is the counter at about a tenth of a millisecond an event.
type slowCounter struct{ counter }

func (c *slowCounter) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	time.Sleep(100 * time.Microsecond)
	return c.counter.Apply(ctx, tx, ev)
}

// A slow rebuild reports progress while it runs, not only every 10,000
// events (ops QA: the history at 3.5k events/s showed nothing for 3 s,
// then one figure, its rate falling and its ETA at 0 by 56%).
func TestASlowRebuildReportsProgressAsItGoes(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	r, _ := runOn(t, es, base, base, &slowCounter{})
	// More than the 4096 events the reader runs ahead of the projection,
	// and fewer than 10,000.
	const n = 6000
	batch := make([]eventstore.NewEvent, 500)
	for i := range batch {
		batch[i] = eventstore.NewEvent{Type: "Tick", Data: map[string]bool{"poison": false}}
	}
	for i := range n / len(batch) {
		if _, err := es.Append(ctx, fmt.Sprintf("s-%d", i%3), eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}, batch...); err != nil {
			t.Fatal(err)
		}
	}
	var during []runner.Progress
	prog, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Millisecond, OnProgress: func(p runner.Progress) {
		if p.Events < n {
			during = append(during, p)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) < 2 || prog.Events != n {
		t.Fatalf("%d progress reports before the end of %d events (%s), want at least 2", len(during), prog.Events, prog.Elapsed)
	}
	for i := 1; i < len(during); i++ {
		if during[i].Events <= during[i-1].Events || during[i].Position <= during[i-1].Position {
			t.Errorf("progress went back: %+v after %+v", during[i], during[i-1])
		}
	}
}
