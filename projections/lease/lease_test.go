package lease_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/lease"
)

func store(t *testing.T, url string) *eventstore.Store {
	t.Helper()
	s, err := eventstore.Open(eventstore.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// leader records who leads and checks that two never lead at once.
type leader struct {
	mu      sync.Mutex
	current string
	tokens  []uint64
	overlap atomic.Bool
	changed chan string
}

func (l *leader) lead(name string) func(context.Context, lease.Term) {
	return func(ctx context.Context, term lease.Term) {
		l.mu.Lock()
		if l.current != "" {
			l.overlap.Store(true)
		}
		l.current = name
		l.tokens = append(l.tokens, term.Token)
		l.mu.Unlock()
		l.changed <- name
		<-ctx.Done()
		l.mu.Lock()
		l.current = ""
		l.mu.Unlock()
	}
}

func wait(t *testing.T, ch chan string, want string, within time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("%s leads, want %s", got, want)
		}
	case <-time.After(within):
		t.Fatalf("%s did not take the lease within %v", want, within)
	}
}

func TestOneHolderReleaseAndExpiry(t *testing.T) {
	srv := esdbtest.Start(t)
	url := esdbtest.URL(srv)
	// Long enough that a loaded CI machine still tells a release (a few
	// hundred ms) from an expiry (the TTL).
	const ttl = 2 * time.Second
	l := &leader{changed: make(chan string, 4)}

	ctxA, stopA := context.WithCancel(context.Background())
	a := lease.New(lease.Options{Store: store(t, url), Stream: "lease-test", Holder: "a", TTL: ttl})
	go a.Run(ctxA, l.lead("a"))
	wait(t, l.changed, "a", 15*time.Second)

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	b := lease.New(lease.Options{Store: store(t, url), Stream: "lease-test", Holder: "b", TTL: ttl})
	go b.Run(ctxB, l.lead("b"))
	select {
	case who := <-l.changed:
		t.Fatalf("%s took a held lease", who)
	case <-time.After(3 * ttl):
	}

	// A graceful stop releases: B takes over well before the TTL.
	start := time.Now()
	stopA()
	wait(t, l.changed, "b", 15*time.Second)
	if d := time.Since(start); d > ttl {
		t.Errorf("hand-over after release took %v, more than the TTL %v", d, ttl)
	}

	// C loses its connection while holding: it must stop on its own and
	// B... here C campaigns after B dies the same way.
	cStore := store(t, url)
	ctxC, stopC := context.WithCancel(context.Background())
	defer stopC()
	c := lease.New(lease.Options{Store: cStore, Stream: "lease-test", Holder: "c", TTL: ttl})
	go c.Run(ctxC, l.lead("c"))
	time.Sleep(ttl / 2)
	stopB() // B releases; C takes
	wait(t, l.changed, "c", 15*time.Second)
	cStore.Close() // C can no longer renew: a dead or partitioned holder
	ctxD, stopD := context.WithCancel(context.Background())
	defer stopD()
	d := lease.New(lease.Options{Store: store(t, url), Stream: "lease-test", Holder: "d", TTL: ttl})
	go d.Run(ctxD, l.lead("d"))
	wait(t, l.changed, "d", 15*time.Second)

	if l.overlap.Load() {
		t.Fatal("two holders led at once")
	}
	if len(l.tokens) == 0 || l.tokens[0] == 0 {
		t.Fatalf("the first term's fencing token is zero, which a store takes for no lease: %v", l.tokens)
	}
	for i := 1; i < len(l.tokens); i++ {
		if l.tokens[i] <= l.tokens[i-1] {
			t.Fatalf("fencing tokens must grow: %v", l.tokens)
		}
	}
}

// A holder whose lease has run out by its own clock stops passing its
// fence at once, not at its next renewal, up to a renewal interval later
// (or after a stall, later still): by then a successor may hold the lease
// and write. The clock here jumps, as it does for a process that stalled
// past the TTL. (Whether a successor then takes the lease depends on
// whether the holder's next renewal comes first, so it is not asked here.)
func TestExpiredHolderIsNoLongerHeld(t *testing.T) {
	srv := esdbtest.Start(t)
	url := esdbtest.URL(srv)
	const ttl = 8 * time.Second
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	l := &leader{changed: make(chan string, 4)}
	var termA atomic.Pointer[lease.Term]
	leadA := l.lead("a")
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	a := lease.New(lease.Options{Store: store(t, url), Stream: "lease-test", Holder: "a", TTL: ttl, Now: now})
	go a.Run(ctxA, func(ctx context.Context, term lease.Term) { termA.Store(&term); leadA(ctx, term) })
	wait(t, l.changed, "a", 15*time.Second)
	if !termA.Load().Held() {
		t.Fatal("a freshly taken lease is not held")
	}
	offset.Store(int64(ttl + time.Second))
	if termA.Load().Held() {
		t.Fatalf("a's term is held %v after its last renewal by its own clock, past the TTL of %v", ttl+time.Second, ttl)
	}
}

// On the way out (Run's context ends) the holder still holds its term while
// its lead finishes: the projections' last flush is fenced by it, and was
// refused (an ERROR at every clean stop, and the batch left to a replay)
// when the term ended before the lead did.
func TestTermHeldUntilTheLeadReturns(t *testing.T) {
	srv := esdbtest.Start(t)
	ctx, stop := context.WithCancel(context.Background())
	heldAtEnd := make(chan bool, 1)
	started := make(chan struct{})
	a := lease.New(lease.Options{Store: store(t, esdbtest.URL(srv)), Stream: "lease-test", Holder: "a", TTL: 8 * time.Second})
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		a.Run(ctx, func(ctx context.Context, term lease.Term) {
			close(started)
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // the last flush takes its time
			heldAtEnd <- term.Held()
		})
	}()
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("the lease was not taken")
	}
	stop()
	<-ran
	if !<-heldAtEnd {
		t.Fatal("the term ended before the lead's last write on the way out")
	}
}
