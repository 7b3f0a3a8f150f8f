package runner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/readstore/storetest"
	"github.com/omsonline/oms/projections/runner"
)

// gatedStore holds the flushes of the counter projection at a gate, or
// fails them, while the gate is shut or failing is set.
type gatedStore struct {
	*sqlitestore.Store
	gate    chan struct{} // a flush waits for it to be closed
	held    chan struct{} // receives once per flush that reached the gate
	failing atomic.Int64  // flushes still to fail
	flushes atomic.Int64
}

func (g *gatedStore) Flush(ctx context.Context, writes []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection == "counter" {
		g.flushes.Add(1)
		if g.failing.Add(-1) >= 0 {
			return errors.New("the disk is full")
		}
		if g.gate != nil {
			select {
			case g.held <- struct{}{}:
			default:
			}
			<-g.gate
		}
	}
	return g.Store.Flush(ctx, writes, cp)
}

// applies counts the counter's applied events.
type applies struct {
	counter
	n atomic.Int64
}

func (a *applies) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if err := a.counter.Apply(ctx, tx, ev); err != nil {
		return err
	}
	a.n.Add(1)
	return nil
}

// releaser returns what opens the store's shut gate, at most once, and
// runs it at the test's end too. Called after the runner started, its
// cleanup runs before the runner's Close, which waits for the held flush.
func releaser(t *testing.T, store *gatedStore) func() {
	t.Helper()
	var once sync.Once
	release := func() { once.Do(func() { close(store.gate) }) }
	t.Cleanup(release)
	return release
}

// awaitHeld waits until a flush of the counter reached the store's gate.
func awaitHeld(t *testing.T, store *gatedStore) {
	t.Helper()
	select {
	case <-store.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no flush reached the store")
	}
}

// awaitApplied waits until p applied n events, while its flush may wait at
// the store.
func awaitApplied(t *testing.T, p *applies, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events applied while a flush waited for the store", p.n.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startGated(t *testing.T, store *gatedStore, p runner.Projection) (*rig, *runner.Runner) {
	t.Helper()
	g := startOn(t, store, store.Store, runner.Options{FlushInterval: 5 * time.Millisecond, FlushGap: time.Millisecond}, p)
	return g, g.runner
}

func openGated(t *testing.T) *gatedStore {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &gatedStore{Store: st, held: make(chan struct{}, 1)}
}

// A live projection goes on applying events while its flush waits for the
// store (SQLite's one writer is shared by every projection and the
// scans): a flush that held the projection's lock while it queued for the
// writer stalled every event behind it. Read-your-writes waiters wake when
// the write commits, not at the next apply or tick.
func TestApplyGoesOnWhileTheStoreWrites(t *testing.T) {
	store := openGated(t)
	store.gate = make(chan struct{})
	p := &applies{}
	g, r := startGated(t, store, p)
	release := releaser(t, store)

	first := g.tick(t, "s", false)
	awaitHeld(t, store)
	for range 5 {
		g.tick(t, "s", false)
	}
	awaitApplied(t, p, 6)
	if pos, _ := r.Position("counter"); pos >= first {
		t.Fatalf("the checkpoint %d passed %d before the store wrote it", pos, first)
	}
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waited <- r.WaitFor(ctx, "counter", first)
	}()
	release()
	if err := <-waited; err != nil {
		t.Fatalf("wait for %d after the write: %v", first, err)
	}
	last := g.tick(t, "s", false)
	waitFor(t, r, last)
	if n := g.count(t, "s"); n != 7 {
		t.Fatalf("the store counts %d ticks, want 7", n)
	}
}

// A flush the store refuses loses nothing: its documents go back into the
// batch, behind the newer versions applied meanwhile, and a later flush
// writes them with the checkpoint; also when the caches are dropped in
// between (DropCaches does not touch the batch).
func TestRefusedFlushIsWrittenAgain(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			store := openGated(t)
			store.failing.Store(3)
			p := &applies{}
			g, r := startGated(t, store, p)
			var last uint64
			for i, s := range []string{"a", "b", "a", "c"} {
				last = g.tick(t, s, false)
				if drop && i%2 == 1 {
					r.DropCaches()
				}
			}
			waitFor(t, r, last)
			if store.flushes.Load() < 4 {
				t.Fatalf("%d flushes: the refused ones were not retried", store.flushes.Load())
			}
			for s, want := range map[string]int{"a": 2, "b": 1, "c": 1} {
				if n := g.count(t, s); n != want {
					t.Errorf("%s counts %d, want %d", s, n, want)
				}
			}
		})
	}
}

// DropCaches empties the caches at any moment, a flush waiting at the
// store included, without losing an update: a dropped document comes from
// the batch in flight or, once that is written, from the store.
func TestDropCachesLosesNothing(t *testing.T) {
	store := openGated(t)
	store.gate = make(chan struct{})
	rc := &storetest.Reads{Store: store, Prefix: "counts"}
	p := &applies{}
	g := startOn(t, rc, store.Store, runner.Options{FlushInterval: 5 * time.Millisecond, FlushGap: time.Millisecond}, p)
	r := g.runner
	release := releaser(t, store)

	g.tick(t, "s", false)
	awaitHeld(t, store)
	r.DropCaches()       // "s" is only in the flush waiting at the gate now
	before := rc.Count() // the first tick looked for "s" in the store
	for range 3 {
		g.tick(t, "s", false)
	}
	awaitApplied(t, p, 4)
	if n := rc.Count() - before; n != 0 {
		t.Fatalf("%d store reads while the document was in the flush in flight", n)
	}
	release()
	waitFor(t, r, g.tick(t, "s", false))
	r.DropCaches()
	last := g.tick(t, "s", false)
	waitFor(t, r, last)
	if n := rc.Count() - before; n != 1 {
		t.Fatalf("%d store reads after the caches were dropped, want 1", n)
	}
	if n := g.count(t, "s"); n != 6 {
		t.Fatalf("the store counts %d ticks, want 6", n)
	}
}
