package runnertest

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// Parking runs projections over es on a fresh SQLite read store, on a
// live subscription that parks an event as soon as it fails, and stops
// them when the test ends. It returns once they run.
func Parking(t testing.TB, es *eventstore.Store, projections ...runner.Projection) (*runner.Runner, *sqlitestore.Store) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return Start(t, es, st, runner.Options{Retries: 1}, projections...), st
}

// Start runs projections over es into st as omsd does, with o's other
// settings (Store, Events and the live Subscriber are filled in), and
// stops them when the test ends. It returns once they run.
func Start(t testing.TB, es *eventstore.Store, st readstore.Store, o runner.Options, projections ...runner.Projection) *runner.Runner {
	t.Helper()
	o.Store, o.Events = st, es
	o.Subscriber = eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(st), NackDelay: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	r, err := runner.New(ctx, o, projections...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go r.Run(ctx)
	<-r.Running()
	t.Cleanup(func() { cancel(); r.Close() })
	return r
}
