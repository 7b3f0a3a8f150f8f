package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// flaky fails the first apply of a poison Tick, as a transient fault
// would, and says so on failed.
type flaky struct {
	counter
	failures atomic.Int64
	failed   chan struct{}
}

func (f *flaky) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	var p struct{ Poison bool }
	_ = json.Unmarshal(ev.Data, &p)
	if p.Poison && f.failures.Add(1) == 1 {
		f.failed <- struct{}{}
		return errors.New("transient: the store read timed out")
	}
	return f.counter.Apply(ctx, tx, ev)
}

// A message waiting for its retry when the runner is aborted or closed is
// not parked: it was cut short, not found poisonous, and the next run
// applies it from the checkpoint. Parked ("context canceled"), it stayed
// listed, and replay-parked applied it a second time.
func TestAbortDoesNotParkTheMessageBeingRetried(t *testing.T) {
	for _, abort := range []bool{true, false} {
		name := "close"
		if abort {
			name = "abort"
		}
		t.Run(name, func(t *testing.T) {
			base, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { base.Close() })
			f := &flaky{failed: make(chan struct{}, 1)}
			g := startOn(t, base, base, runner.Options{Retries: 5}, f)
			g.tick(t, "s", true)
			select {
			case <-f.failed:
			case <-time.After(10 * time.Second):
				t.Fatal("the event was not applied")
			}
			if abort {
				g.runner.Abort()
			} else {
				g.runner.Close()
			}
			parked, err := g.events.ListParked(context.Background(), eventstore.ParkedStream)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parked {
				t.Errorf("parked after one transient failure: %s (reason %q)", p.Message.Metadata[eventstore.MetaStream], p.Reason())
			}
		})
	}
}

var _ readstore.Store = (*sqlitestore.Store)(nil)
