package runner_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// ctxStore counts the counter's flushes and those that failed.
type ctxStore struct {
	*sqlitestore.Store
	calls, failed atomic.Int64
	lastErr       atomic.Value
}

func (s *ctxStore) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection != "counter" {
		return s.Store.Flush(ctx, w, cp)
	}
	s.calls.Add(1)
	err := s.Store.Flush(ctx, w, cp)
	if err != nil {
		s.failed.Add(1)
		s.lastErr.Store(err.Error())
	}
	return err
}

// A flush that a full batch starts runs in the background on a context of
// its own. It ran on the context of the message that filled the batch,
// which the ack cancels: every such flush failed (and was written again by
// the next), with an ERROR each time.
func TestBatchFullFlushIsNotCancelledByTheAck(t *testing.T) {
	base, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	cs := &ctxStore{Store: base}
	g := startOn(t, cs, base, runner.Options{BatchSize: 1, FlushInterval: time.Hour}, &counter{})
	for range 5 {
		g.tick(t, "s", false)
		time.Sleep(50 * time.Millisecond)
	}
	if c, f := cs.calls.Load(), cs.failed.Load(); f > 0 {
		t.Fatalf("%d of %d flushes failed, the last with %v", f, c, cs.lastErr.Load())
	}
}
