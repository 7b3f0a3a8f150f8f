package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/readstore/storetest"
	"github.com/omsonline/oms/projections/runner"
)

// firsts counts Ticks per stream like counter, but builds a stream's
// document without a read when the runner says the event starts the
// stream, as appview does for application views.
type firsts struct {
	broken atomic.Bool
	mu     sync.Mutex
	starts map[string][]bool // stream → StartsStream per applied event
}

func (*firsts) Name() string { return "counter" }
func (*firsts) Collections() []runner.Collection {
	return []runner.Collection{{Name: "counts", Kind: readstore.KindDocs}}
}

func (f *firsts) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type != "Tick" {
		// The parking of a poison Tick is an event too, in a stream of its
		// own; counting it made the reads depend on whether it had been
		// applied yet when they were counted.
		return nil
	}
	var p struct{ Poison bool }
	_ = json.Unmarshal(ev.Data, &p)
	if p.Poison && f.broken.Load() {
		return errors.New("cannot handle poison")
	}
	f.mu.Lock()
	f.starts[ev.Stream] = append(f.starts[ev.Stream], tx.StartsStream())
	f.mu.Unlock()
	var doc count
	if !tx.StartsStream() {
		_, fresh, err := tx.GetJSON("counts", ev.Stream, &doc)
		if err != nil || !fresh {
			return err
		}
	}
	return tx.Put("counts", ev.Stream, count{N: doc.N + 1}, nil)
}

// A stream's first event skips the read that could only find nothing, but
// only where the store flushes atomically and never for a replayed parked
// event, whose stream has documents by then. (A parked first event is not
// replayed behind its stream's later ones; see ReplayParked.)
func TestStartsStreamSkipsOnlyReadsThatCannotFind(t *testing.T) {
	storetest.BothFlushes(t, 1, 4, func(t *testing.T, hidden bool, wantReads int64) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		es := esdbtest.Store(t, eventstore.Options{})
		base, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer base.Close()
		rc := &storetest.Reads{Store: base, Hidden: hidden}
		f := &firsts{starts: map[string][]bool{}}
		f.broken.Store(true)
		sub := eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})
		r, err := runner.New(ctx, runner.Options{Store: rc, Subscriber: sub, Events: es, Retries: 1}, f)
		if err != nil {
			t.Fatal(err)
		}
		go r.Run(ctx)
		<-r.Running()
		defer r.Close()
		g := &rig{events: es, store: base, runner: r}

		g.tick(t, "s-a", false)
		g.tick(t, "s-a", false)
		g.tick(t, "s-b", false)
		g.tick(t, "s-c", true) // parked: the first event of s-c
		g.tick(t, "s-c", false)
		g.tick(t, "s-d", false)
		waitFor(t, r, g.tick(t, "s-d", true)) // parked: the last event of s-d
		f.broken.Store(false)
		n, err := r.ReplayParked(ctx, "counter")
		var sup *runner.SupersededError
		if n != 1 || !errors.As(err, &sup) || sup.Skipped != 1 {
			t.Fatalf("replay: %d %v, want s-d's replayed and s-c's superseded", n, err)
		}
		for stream, want := range map[string]int{"s-a": 2, "s-b": 1, "s-c": 1, "s-d": 2} {
			if n := g.count(t, stream); n != want {
				t.Errorf("%s counted %d, want %d", stream, n, want)
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		// s-c: its second event, which is not its stream's first; s-d: its
		// first, then its replayed second, which must read the document (a
		// replay treated as a stream's start would overwrite the count
		// with 1).
		want := map[string][]bool{"s-a": {!hidden, false}, "s-b": {!hidden}, "s-c": {false}, "s-d": {!hidden, false}}
		for stream, w := range want {
			got := f.starts[stream]
			if len(got) != len(w) {
				t.Fatalf("%s: StartsStream %v, want %v", stream, got, w)
			}
			for i := range w {
				if got[i] != w[i] {
					t.Errorf("%s event %d: StartsStream %v, want %v", stream, i, got[i], w[i])
				}
			}
		}
		// The first events of s-a, s-b and s-d read the store only where
		// flushes are not atomic; s-c's second event, the first it saw
		// but not its stream's first, reads it in both. The replay finds
		// s-d's document in the cache.
		if got := rc.Count(); got != wantReads {
			t.Errorf("store reads %d, want %d", got, wantReads)
		}
	})
}

// A read-your-writes wait asks for its flush instead of waiting for the
// flush interval: with an interval of ten minutes, a wait for an event
// appended a moment ago ends long before it, whether the wait began
// before the event was applied or after.
func TestWaitForAsksForAnEarlyFlush(t *testing.T) {
	ctx := context.Background()
	es := esdbtest.Store(t, eventstore.Options{})
	base, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	sub := eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base)})
	r, err := runner.New(ctx, runner.Options{Store: base, Subscriber: sub, FlushInterval: 10 * time.Minute, FlushGap: time.Millisecond}, &counter{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go r.Run(runCtx)
	<-r.Running()
	defer r.Close()
	g := &rig{events: es, store: base, runner: r}
	for i := 1; i <= 3; i++ {
		pos := g.tick(t, "s", false)
		if i == 2 {
			// Let the event be applied before the wait begins.
			time.Sleep(200 * time.Millisecond)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := r.WaitFor(waitCtx, "counter", pos)
		cancel()
		if err != nil {
			t.Fatalf("wait %d for %d: %v (the flush interval is ten minutes)", i, pos, err)
		}
		if n := g.count(t, "s"); n != i {
			t.Fatalf("after wait %d the store counts %d", i, n)
		}
	}
}
