package runner_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// committing holds the counter's flushes at a gate, as a write already
// committing is held by a slow disk: past cancelling. queued says whether
// a flush waiting at the gate gives up when its context ends instead, as
// one queued for SQLite's single writer does.
type committing struct {
	*sqlitestore.Store
	gate    chan struct{}
	held    chan struct{}
	queued  bool
	flushes atomic.Int64
}

func (s *committing) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection == "counter" {
		select {
		case s.held <- struct{}{}:
		default:
		}
		if s.queued {
			select {
			case <-s.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			<-s.gate
		}
		s.flushes.Add(1)
	}
	return s.Store.Flush(context.Background(), w, cp)
}

// When a node loses its lease, a flush of its that is still queued for the
// store is cancelled, and one already writing has landed before Abort
// returns, so the next term (here or, once its lease expired, elsewhere)
// writes after it. Abort left both going on, and the old term's write
// could land over the next term's: a document back at an old value and
// the checkpoint going backwards. A flush started after the term ended is
// refused by the fence, asked again after waiting for the flush before it.
func TestAbortLeavesNoFlushBehind(t *testing.T) {
	for _, c := range []struct {
		name      string
		queued    bool
		batchSize int // 1: a full batch starts the flush; else the flush loop's timer
	}{{"committing", false, 1}, {"queued", true, 1}, {"queued by the timer", true, 1000}} {
		queued := c.queued
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			es, base := stores(t)
			slow := &committing{Store: base, gate: make(chan struct{}), held: make(chan struct{}, 1), queued: queued}
			var lost atomic.Bool
			fence := func() error {
				if lost.Load() {
					return errors.New("lease lost")
				}
				return nil
			}
			interval := time.Hour
			if c.batchSize > 1 {
				interval = 5 * time.Millisecond
			}
			r1, err := runner.New(ctx, runner.Options{Store: slow, Events: es, Fence: fence, BatchSize: c.batchSize, FlushInterval: interval,
				Subscriber: eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})}, &counter{})
			if err != nil {
				t.Fatal(err)
			}
			ctx1, stop1 := context.WithCancel(ctx)
			defer stop1()
			go r1.Run(ctx1)
			<-r1.Running()
			g := &rig{events: es, store: base, runner: r1}
			g.tick(t, "s", false)
			select {
			case <-slow.held:
			case <-time.After(10 * time.Second):
				t.Fatal("no flush reached the store")
			}
			lost.Store(true)
			aborted := make(chan struct{})
			go func() { r1.Abort(); close(aborted) }()
			if !queued {
				select {
				case <-aborted:
					t.Fatal("Abort returned while its term's flush was still writing")
				case <-time.After(200 * time.Millisecond):
				}
				close(slow.gate)
			}
			select {
			case <-aborted:
			case <-time.After(10 * time.Second):
				t.Fatal("Abort did not return")
			}
			stop1()
			landed := slow.flushes.Load()
			if queued {
				close(slow.gate)
			}

			r2, stop2 := runOn(t, es, base, base) // the next term
			g.runner = r2
			g.tick(t, "s", false)
			last := g.tick(t, "s", false)
			waitFor(t, r2, last)
			stop2()
			if n := g.count(t, "s"); n != 3 {
				t.Errorf("after the next term s counts %d, want 3", n)
			}
			if queued && landed != 0 {
				t.Errorf("%d flushes of the aborted term landed, want the queued one cancelled", landed)
			}
			cp, err := base.LoadCheckpoint(ctx, "counter")
			if err != nil || cp.Position != last {
				t.Errorf("the checkpoint is at %d (%v), want %d", cp.Position, err, last)
			}
		})
	}
}

// stalled holds the first counter flush that hold picks, as a node paused
// (by its VM, say) in the middle of a write, and reports how it ended.
type stalled struct {
	*sqlitestore.Store
	hold  func(readstore.Checkpoint) bool
	once  sync.Once
	held  chan struct{}
	gate  chan struct{}
	ended chan error
	later atomic.Int64 // flushes tried after the held one
}

func newStalled(base *sqlitestore.Store, hold func(readstore.Checkpoint) bool) *stalled {
	return &stalled{Store: base, hold: hold, held: make(chan struct{}), gate: make(chan struct{}), ended: make(chan error, 1)}
}

func (s *stalled) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	first := false
	if cp.Projection == "counter" && s.hold(cp) {
		s.once.Do(func() { first = true })
	}
	if !first {
		s.later.Add(1)
		return s.Store.Flush(ctx, w, cp)
	}
	close(s.held)
	<-s.gate
	err := s.Store.Flush(context.Background(), w, cp)
	s.ended <- err
	return err
}

// waitHeld waits until the flush to hold has reached the store.
func (s *stalled) waitHeld(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.held:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never reached the store", what)
	}
}

// wakeRefused lets the held flush go on and wants the store to refuse
// it for its token.
func (s *stalled) wakeRefused(t *testing.T, what string) {
	t.Helper()
	close(s.gate)
	select {
	case err := <-s.ended:
		if !errors.Is(err, readstore.ErrFenced) {
			t.Fatalf("%s ended with %v, want readstore.ErrFenced", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}

// startTerm runs the counter for one lease term with token, writing
// through store, fed from base's checkpoints. Its Fence always says yes:
// a paused node never learns it lost the lease.
func startTerm(t *testing.T, es *eventstore.Store, base *sqlitestore.Store, store readstore.Store, token uint64, batchSize int, flushInterval time.Duration) *runner.Runner {
	t.Helper()
	r, err := runner.New(context.Background(), runner.Options{Store: store, Events: es, FenceToken: token, BatchSize: batchSize, FlushInterval: flushInterval,
		Fence:      func() error { return nil },
		Subscriber: eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})}, &counter{})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	t.Cleanup(func() { stop(); r.Abort() })
	go r.Run(rctx)
	<-r.Running()
	return r
}

// A holder paused in the middle of a write, past every check of its own,
// while its lease expired and the next term wrote on: when it wakes, the
// store refuses the write by its older fencing token, so the count and the
// checkpoint stay the successor's, and the stale runner writes no more.
// Without the token the stale write landed and took both back.
func TestStoreRefusesAStalledTermsWrite(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	slow := newStalled(base, func(readstore.Checkpoint) bool { return true })
	start := func(store readstore.Store, token uint64) *runner.Runner {
		return startTerm(t, es, base, store, token, 1, time.Hour)
	}
	stale := start(slow, 5)
	g := &rig{events: es, store: base, runner: stale}
	g.tick(t, "s", false)
	slow.waitHeld(t, "the first term's flush")

	g.runner = start(base, 7) // the next term, after the lease expired
	g.tick(t, "s", false)
	last := g.tick(t, "s", false)
	waitFor(t, g.runner, last)
	if n := g.count(t, "s"); n != 3 {
		t.Fatalf("the next term counted %d, want 3", n)
	}

	slow.wakeRefused(t, "the stalled write") // the paused node wakes and finishes its write
	if n := g.count(t, "s"); n != 3 {
		t.Errorf("after the stalled write s counts %d, want the next term's 3", n)
	}
	cp, err := base.LoadCheckpoint(ctx, "counter")
	if err != nil || cp.Position != last || cp.Fence != 7 {
		t.Errorf("checkpoint %+v (%v), want the next term's: position %d, token 7", cp, err, last)
	}
	// The stale runner, which has the later events batched too, writes
	// none of them: it stopped at the store's first refusal.
	time.Sleep(100 * time.Millisecond)
	next := g.tick(t, "s", false)
	waitFor(t, g.runner, next)
	if n := g.count(t, "s"); n != 4 {
		t.Errorf("s counts %d after one more event, want 4", n)
	}
	if p, _ := stale.Position("counter"); p >= last {
		t.Errorf("the stale runner's flushed position is %d, at or past the next term's %d", p, last)
	}
	if n := slow.later.Load(); n != 0 {
		t.Errorf("the stale runner tried %d more flushes after the store refused one, want none", n)
	}
}

// A node paused inside a rebuild's switch, its readers already moved to
// the new generation, wakes after the next term has rebuilt and switched
// the readers itself. The store refuses the paused switch's checkpoint,
// and the refused node must leave the readers alone: moving them "back"
// took them to a generation no one writes, and that the next term was
// about to drop.
func TestAFencedOffSwitchLeavesTheReadersAlone(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	// The switch's checkpoint flush is the one naming generation 2.
	slow := newStalled(base, func(cp readstore.Checkpoint) bool { return cp.Generation == 2 })
	start := func(store readstore.Store, token uint64) *runner.Runner {
		return startTerm(t, es, base, store, token, 0, 5*time.Millisecond)
	}
	stale := start(slow, 5)
	g := &rig{events: es, store: base, runner: stale}
	g.ticks(t, 6)
	rebuilt := make(chan error, 1)
	go func() {
		_, err := stale.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Millisecond})
		rebuilt <- err
	}()
	slow.waitHeld(t, "the first term's rebuild switch")

	next := start(base, 7) // after the lease expired
	g.runner = next
	last := g.ticks(t, 3)
	if _, err := next.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if a, _ := base.Alias(ctx, "counts"); a != "counts_g2" {
		t.Fatalf("after the next term's rebuild the readers are on %s, want counts_g2", a)
	}

	slow.wakeRefused(t, "the paused switch's flush")
	if err := <-rebuilt; !errors.Is(err, readstore.ErrFenced) {
		t.Fatalf("the paused rebuild ended with %v, want readstore.ErrFenced", err)
	}
	waitFor(t, next, last)
	waitFor(t, next, g.tick(t, "s-0", false))
	a, _ := base.Alias(ctx, "counts")
	if n := g.count(t, "s-0"); a != "counts_g2" || n != 4 {
		t.Fatalf("after the fenced-off switch the readers are on %s and see s-0 at %d; the next term writes counts_g2 and has it at 4", a, n)
	}
}
