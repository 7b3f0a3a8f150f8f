package httpapi_test

import (
	"context"
	"testing"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// BenchmarkTimeTravel loads a 200-event application stream from the
// embedded event store through the v4 client and folds it with the
// per-step diffs, as GET /applications/:id/state does, with its personal
// data sealed as omsd stores it.
func BenchmarkTimeTravel(b *testing.B) {
	ctx := context.Background()
	vault, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer vault.Close()
	filler, store, err := perf.SealedStores(esdbtest.URL(esdbtest.Start(b)), vault, eventstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer filler.Close()
	defer store.Close()
	appID, err := perf.AppendTimeTravelHistory(ctx, filler)
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
