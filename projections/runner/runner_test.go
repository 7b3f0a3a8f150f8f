package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// counter counts "Tick" events per stream; it fails on events whose data
// says {"poison":true} while broken is set, as a projection with a bug would.
type counter struct{ broken atomic.Bool }

func (*counter) Name() string { return "counter" }
func (*counter) Collections() []runner.Collection {
	return []runner.Collection{{Name: "counts", Kind: readstore.KindDocs}}
}

type count struct {
	N int `json:"n"`
}

func (c *counter) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type != "Tick" {
		return nil
	}
	var p struct{ Poison bool }
	_ = json.Unmarshal(ev.Data, &p)
	if p.Poison && c.broken.Load() {
		return errors.New("cannot handle poison")
	}
	var doc count
	_, fresh, err := tx.GetJSON("counts", ev.Stream, &doc)
	if err != nil || !fresh {
		return err
	}
	return tx.Put("counts", ev.Stream, count{N: doc.N + 1}, nil)
}

type rig struct {
	events *eventstore.Store
	store  readstore.Store
	runner *runner.Runner
	stop   func()
}

func start(t *testing.T, p runner.Projection) *rig {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return startOn(t, st, st, runner.Options{Retries: 2}, p)
}

// startOn runs p on a fresh event store, writing through store (base, or a
// wrapper of it) with the rest of o.
func startOn(t *testing.T, store readstore.Store, base *sqlitestore.Store, o runner.Options, p runner.Projection) *rig {
	t.Helper()
	es := esdbtest.Store(t, eventstore.Options{})
	o.Store, o.Events = store, es
	o.Subscriber = eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})
	r, err := runner.New(context.Background(), o, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	<-r.Running()
	t.Cleanup(func() { cancel(); r.Close() })
	return &rig{events: es, store: base, runner: r, stop: cancel}
}

func (g *rig) tick(t *testing.T, stream string, poison bool) uint64 {
	t.Helper()
	res, err := g.events.Append(context.Background(), stream, eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
		eventstore.NewEvent{Type: "Tick", Data: map[string]bool{"poison": poison}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

func (g *rig) count(t *testing.T, stream string) int {
	t.Helper()
	d, err := g.store.Get(context.Background(), "counts", stream)
	if errors.Is(err, readstore.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var c count
	if err := json.Unmarshal(d.Body, &c); err != nil {
		t.Fatal(err)
	}
	return c.N
}

func waitFor(t *testing.T, r *runner.Runner, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, "counter", pos); err != nil {
		t.Fatalf("projection did not reach %d: %v", pos, err)
	}
}

// A failing event is retried, parked with its reason, skipped; after the
// fix, replay-parked applies it and marks it replayed.
func TestPoisonIsParkedThenReplayed(t *testing.T) {
	c := &counter{}
	c.broken.Store(true)
	g := start(t, c)
	g.tick(t, "s-1", false)
	g.tick(t, "s-2", true) // poison
	last := g.tick(t, "s-1", false)
	waitFor(t, g.runner, last)
	if n := g.count(t, "s-1"); n != 2 {
		t.Fatalf("s-1 counted %d, want 2: the projection must go on past a parked event", n)
	}
	if n := g.count(t, "s-2"); n != 0 {
		t.Fatalf("the poison event was applied: %d", n)
	}
	parked, err := g.events.ListParked(context.Background(), eventstore.ParkedStream)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].Handler() != "counter" || parked[0].Reason() == "" || parked[0].Message.Metadata[eventstore.MetaStream] != "s-2" {
		t.Fatalf("parked: %+v", parked)
	}
	// Still broken: the replay fails and nothing is marked.
	if n, err := g.runner.ReplayParked(context.Background(), "counter"); err == nil || n != 0 {
		t.Fatalf("replay while broken: %d %v", n, err)
	}
	c.broken.Store(false)
	if n, err := g.runner.ReplayParked(context.Background(), "counter"); err != nil || n != 1 {
		t.Fatalf("replay after the fix: %d %v", n, err)
	}
	if n := g.count(t, "s-2"); n != 1 {
		t.Fatalf("after replay s-2 counted %d, want 1", n)
	}
	if left, _ := g.events.ListParked(context.Background(), eventstore.ParkedStream); len(left) != 0 {
		t.Fatalf("replayed messages are still listed: %d", len(left))
	}
	// A second replay finds nothing to do.
	if n, err := g.runner.ReplayParked(context.Background(), "counter"); err != nil || n != 0 {
		t.Fatalf("second replay: %d %v", n, err)
	}
}

// writeCounter records every flush the store receives.
type writeCounter struct {
	readstore.Store
	flushes atomic.Int64
	writes  atomic.Int64
}

func (w *writeCounter) Flush(ctx context.Context, ws []readstore.Write, cp readstore.Checkpoint) error {
	w.flushes.Add(1)
	w.writes.Add(int64(len(ws)))
	seen := map[string]bool{}
	for _, x := range ws {
		k := x.Collection + "/" + x.Doc.ID
		if seen[k] {
			return fmt.Errorf("document %s written twice in one flush", k)
		}
		seen[k] = true
	}
	return w.Store.Flush(ctx, ws, cp)
}

// Events are applied in memory and flushed in batches: one write per
// changed document per batch, never one per event.
func TestBatchingWritesEachDocumentOncePerFlush(t *testing.T) {
	es := esdbtest.Store(t, eventstore.Options{})
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if _, err := es.Append(ctx, fmt.Sprintf("s-%d", i%3), eventstore.Any, events.Metadata{}, eventstore.NewEvent{ID: uuid.New(), Type: "Tick", Data: map[string]bool{}}); err != nil {
			t.Fatal(err)
		}
	}
	base, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	wc := &writeCounter{Store: base}
	r, err := runner.New(ctx, runner.Options{Store: wc, Events: es, Subscriber: eventstore.NewSubscriber(es, eventstore.SubscriberOptions{})}, &counter{})
	if err != nil {
		t.Fatal(err)
	}
	// The rebuild also runs with its own GOGC over the runtime's default,
	// and puts the default back, after a failed rebuild too. An operator's
	// GOGC would be left alone: none here.
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	during := 0
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 100, DropDelay: time.Millisecond, GCPercent: 333,
		OnProgress: func(runner.Progress) { during = gogc() }}); err != nil {
		t.Fatal(err)
	}
	if after := gogc(); during != 333 || after != 100 {
		t.Fatalf("GOGC %d during the rebuild and %d after, want 333 and 100", during, after)
	}
	if _, err := r.Rebuild(ctx, "no-such-projection", runner.RebuildOptions{GCPercent: 333}); err == nil {
		t.Fatal("a rebuild of an unknown projection succeeded")
	}
	if after := gogc(); after != 100 {
		t.Fatalf("GOGC %d after a failed rebuild, want 100", after)
	}
	for i := 0; i < 3; i++ {
		d, err := base.Get(ctx, "counts", fmt.Sprintf("s-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Body) != `{"n":100}` {
			t.Fatalf("s-%d: %s", i, d.Body)
		}
	}
	// 300 events in batches of 100 over 3 documents: at most 3 writes per flush.
	if f, w := wc.flushes.Load(), wc.writes.Load(); w > 3*f || f > 5 {
		t.Fatalf("%d flushes with %d writes for 300 events on 3 documents", f, w)
	}
}

// gogc reads GOGC without setting it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(int32(s[0].Value.Uint64()))
}
