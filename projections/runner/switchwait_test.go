package runner_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// A read-your-writes wait for a position the live projection had not
// reached when a rebuild switched (the rebuild read further than the live
// handler, which was busy) ends when the switch makes that position the
// projection's: Position says it is there and the data is readable.
func TestRebuildSwitchWakesWaitersItSatisfies(t *testing.T) {
	ctx := context.Background()
	base, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	var mu sync.Mutex
	var blockAfter uint64 = ^uint64(0)
	gate := make(chan struct{})
	slow := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			pos, _ := strconv.ParseUint(msg.Metadata.Get(eventstore.MetaPosition), 10, 64)
			mu.Lock()
			b := pos > blockAfter
			mu.Unlock()
			if b {
				<-gate // the live handler is busy
			}
			return h(msg)
		}
	}
	g := startOn(t, base, base, runner.Options{Retries: 2, FlushInterval: 5 * time.Millisecond, Middlewares: []message.HandlerMiddleware{slow}}, &counter{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	r := g.runner

	first := g.tick(t, "s", false)
	waitFor(t, r, first)
	mu.Lock()
	blockAfter = first
	mu.Unlock()
	g.tick(t, "s", false)
	last := g.tick(t, "s", false)

	waited := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		waited <- r.WaitFor(wctx, "counter", last)
	}()
	time.Sleep(50 * time.Millisecond) // the wait is registered
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if pos, _ := r.Position("counter"); pos < last {
		t.Fatalf("after the switch the projection is at %d, want %d", pos, last)
	}
	if n := g.count(t, "s"); n != 3 {
		t.Fatalf("after the switch s counts %d, want 3", n)
	}
	once.Do(func() { close(gate) }) // the live handler catches up (nothing left to apply)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("the wait for %d ended with %v though the projection is at it", last, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait still blocked")
	}
}
