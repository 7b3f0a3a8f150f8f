package benchload_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// BenchmarkCatchUpTypes is what an erasure pays to find an applicant's
// uploads (service.uploadsOf): a read of the whole log for one event type,
// filtered by the server. The application histories it fills hold no
// uploads, so this is the scan alone, with nothing sent back;
// OMS_BENCH_EVENTS sets their number (default 120k).
//
//	OMS_BENCH_EVENTS=1000000 go test -run '^$' -bench CatchUpTypes -benchtime 3x ./events/benchload/
func BenchmarkCatchUpTypes(b *testing.B) {
	n := benchEvents()
	ctx := context.Background()
	es := esdbtest.Store(b, eventstore.Options{})
	if err := benchload.Fill(ctx, es, n, 32, nil); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		found := 0
		if err := es.CatchUpTypes(ctx, nil, []string{schema.TypeDocumentUploaded}, func(eventstore.Recorded) error { found++; return nil }); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		if found != 0 {
			b.Fatalf("found %d uploads among events that hold none", found)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "events-scanned/s")
}
