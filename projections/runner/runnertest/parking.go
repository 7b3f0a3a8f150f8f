package runnertest

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// Parking runs projections over es on a fresh SQLite read store, on a
// live subscription that parks an event as soon as it fails, and stops
// them when the test ends. It returns once they run.
func Parking(t testing.TB, es *eventstore.Store, projections ...runner.Projection) (*runner.Runner, *sqlitestore.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sub := eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(st), NackDelay: time.Millisecond})
	r, err := runner.New(ctx, runner.Options{Store: st, Events: es, Subscriber: sub, Retries: 1}, projections...)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	go r.Run(rctx)
	<-r.Running()
	t.Cleanup(func() { cancel(); r.Close() })
	return r, st
}
