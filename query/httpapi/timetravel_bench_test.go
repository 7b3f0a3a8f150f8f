package httpapi_test

import (
	"context"
	"testing"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
)

// BenchmarkTimeTravel loads a 200-event application stream from the
// embedded event store through the v4 client and folds it with the
// per-step diffs, as GET /applications/:id/state does.
func BenchmarkTimeTravel(b *testing.B) {
	store := esdbtest.Store(b, eventstore.Options{})
	ctx := context.Background()
	appID, err := perf.AppendTimeTravelHistory(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := perf.TimeTravelOnce(ctx, store, appID)
		if err != nil {
			b.Fatal(err)
		}
		if st.State.Status != "policy_active" {
			b.Fatalf("replayed to %s", st.State.Status)
		}
	}
}
