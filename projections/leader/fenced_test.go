package leader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/leader"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// refusing refuses the counter's flushes with ErrFenced while they carry
// a token below floor, as a store does that a newer term has written to.
type refusing struct {
	*sqlitestore.Store
	floor   atomic.Uint64
	refused atomic.Int64
}

func (s *refusing) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection == "counter" && cp.Fence < s.floor.Load() {
		s.refused.Add(1)
		return fmt.Errorf("test store: token %d below %d: %w", cp.Fence, s.floor.Load(), readstore.ErrFenced)
	}
	return s.Store.Flush(ctx, w, cp)
}

// When the store refuses a term's flush for its token, the term ends at
// once, though the lease still looks held here, and the campaign goes
// on: this node, still the lease's holder, takes it again with a newer
// token, and its projections carry on from their checkpoints with nothing
// lost. Kept running, the refused runner wrote nothing for the rest of the
// term while it renewed the lease, so no node could take over.
func TestAFencedOffTermEndsAndTheCampaignGoesOn(t *testing.T) {
	ctx := context.Background()
	es := esdbtest.Store(t, eventstore.Options{})
	base, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	st := &refusing{Store: base}
	var mu sync.Mutex
	var tokens []uint64
	l := runLeader(t, es, st, base, func(term leader.Term) {
		mu.Lock()
		tokens = append(tokens, term.Token)
		mu.Unlock()
	})
	mu.Lock()
	first := tokens[0]
	mu.Unlock()

	tick := func() uint64 {
		res, err := es.Append(ctx, "s", eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
			eventstore.NewEvent{Type: "Tick", Data: map[string]bool{}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	st.floor.Store(first + 1) // a newer term has written: this one is refused
	tick()
	last := tick()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := l.WaitFor(wctx, "counter", last); err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("after its term was fenced off the node never projected again (terms %v, %d flushes refused): %v", tokens, st.refused.Load(), err)
	}
	mu.Lock()
	terms := append([]uint64(nil), tokens...)
	mu.Unlock()
	if st.refused.Load() == 0 || len(terms) < 2 || terms[len(terms)-1] <= first {
		t.Fatalf("terms %v after %d refused flushes: want a refusal and then a newer term", terms, st.refused.Load())
	}
	d, err := base.Get(ctx, "counts", "s")
	if err != nil {
		t.Fatal(err)
	}
	var c count
	if err := json.Unmarshal(d.Body, &c); err != nil || c.N != 2 {
		t.Fatalf("s counts %s (%v), want 2: nothing lost, nothing doubled", d.Body, err)
	}
}
