package leader_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/leader"
	"github.com/omsonline/oms/projections/lease"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// On the leaseholder a wait for a projection the runner does not have is
// an error at once. It used to go round its 200 ms bound without waiting,
// spinning a core until the caller's deadline (found when a node ran with
// no history projection while its sweeper waited for one).
func TestWaitForAnUnknownProjectionFailsAtOnceOnTheLeaseholder(t *testing.T) {
	ctx := context.Background()
	es := esdbtest.Store(t, eventstore.Options{})
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := runLeader(t, es, st, st, nil)
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = l.WaitFor(wctx, "no-such-projection", 1)
	if err == nil || !strings.Contains(err.Error(), "unknown projection") {
		t.Fatalf("WaitFor an unknown projection: %v, want the runner's unknown-projection error", err)
	}
	if wctx.Err() != nil {
		t.Fatal("WaitFor an unknown projection returned only at the caller's deadline")
	}
}

// runLeader campaigns as node-a for the counter projection, writing
// through runStore (a wrapper of base, or base itself), and returns once
// the first term's projections run; onTerm, if not nil, sees each term.
func runLeader(t *testing.T, es *eventstore.Store, runStore readstore.Store, base *sqlitestore.Store, onTerm func(leader.Term)) *leader.Leader {
	t.Helper()
	l := leader.New(leader.Options{
		Lease: lease.New(lease.Options{Store: es, Stream: "lease-test", Holder: "node-a", TTL: time.Second}),
		Build: func(ctx context.Context, term leader.Term) (*runner.Runner, error) {
			if onTerm != nil {
				onTerm(term)
			}
			return runner.New(ctx, runner.Options{Store: runStore, Events: es, FlushInterval: 5 * time.Millisecond,
				Fence: term.Fence, FenceToken: term.Token, Fenced: term.Fenced,
				Subscriber: eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(base), NackDelay: time.Millisecond})}, counter{})
		},
		Names: []string{"counter"}, Store: base, Events: es,
	})
	lctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); l.Run(lctx) }()
	t.Cleanup(func() { stop(); <-ran })
	select {
	case <-l.Started():
	case <-time.After(10 * time.Second):
		t.Fatal("the leader never started its projections")
	}
	return l
}
