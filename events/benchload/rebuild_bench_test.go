package benchload_test

import (
	"context"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/renewals"
	"github.com/omsonline/oms/projections/runner"
)

func benchEvents() int {
	if v, err := strconv.Atoi(os.Getenv("OMS_BENCH_EVENTS")); err == nil && v > 0 {
		return v
	}
	return 120_000
}

// BenchmarkRebuild fills the embedded event store with application
// histories (OMS_BENCH_EVENTS, default 120k; the README's figure uses 1M),
// rebuilds every projection from position 0 into fresh collections, and
// compares the time with a raw bulk insert of the documents the rebuild
// produced, into the same store in the same run. OMS_BENCH_ONLY=history
// (a comma-separated list) rebuilds only those, for profiling, and
// OMS_BENCH_CPUPROFILE=FILE profiles the rebuilds without the load, and
// OMS_BENCH_DIR=DIR keeps the read store there instead of a temporary dir.
func BenchmarkRebuild(b *testing.B) {
	n := benchEvents()
	ctx := context.Background()
	// The read store first: it is the key vault of the events' sealed
	// personal data, as in omsd.
	dir := b.TempDir()
	if d := os.Getenv("OMS_BENCH_DIR"); d != "" {
		dir = d // kept, to look into the read models afterwards
	}
	store, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	filler, events, err := perf.SealedStores(esdbtest.URL(esdbtest.Start(b)), store, eventstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer filler.Close()
	defer events.Close()
	start := time.Now()
	if err := benchload.Fill(ctx, filler, n, 32, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d events in %s", n, time.Since(start).Round(time.Millisecond))
	projs := []runner.Projection{cabinet.Projection{}, history.Projection{}, queue.Projection{Calendar: calendar.Default(), SLADays: 10}, renewals.Projection{}}
	r, err := runner.New(ctx, runner.Options{Store: store, Events: events, Subscriber: eventstore.NewSubscriber(events, eventstore.SubscriberOptions{})}, projs...)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, len(projs))
	for i, p := range projs {
		names[i] = p.Name()
	}
	if f := os.Getenv("OMS_BENCH_CPUPROFILE"); f != "" {
		// -cpuprofile would mostly show the load; this covers the rebuilds.
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		// Each projection alone, as an operator rebuilds one after a fix
		// (OMS_BENCH_ONE_PASS_ONLY=1 skips these).
		var res perf.RebuildResult
		if os.Getenv("OMS_BENCH_ONE_PASS_ONLY") == "" {
			only := names
			if o := os.Getenv("OMS_BENCH_ONLY"); o != "" {
				// Profiling one projection: its rebuild alone, nothing else.
				only = strings.Split(o, ",")
			}
			stopHeap := peakHeap()
			if res, err = perf.Rebuild(ctx, r, only, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(stopHeap())/(1<<20), "alone-heap-peak-MB")
			for _, p := range res.Projections {
				b.ReportMetric(p.PerSecond, p.Name+"-events/s")
			}
			b.ReportMetric(float64(n)/res.Total.Seconds(), "events/s(one-after-another)")
			if os.Getenv("OMS_BENCH_ONLY") != "" {
				continue
			}
		}
		// All of them in one pass, as after a schema change or a restore,
		// with the heap it took (at the runtime's GOGC=100, which this
		// benchmark does not change: omsd's is 200, see
		// cmd/internal/procs, and only a rebuild of one projection
		// raises it).
		stopHeap := peakHeap()
		all, err := perf.RebuildAll(ctx, r, names, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(stopHeap())/(1<<20), "one-pass-heap-peak-MB")
		total := all.Elapsed
		b.ReportMetric(all.PerSecond, "events/s(one-pass-all)")

		// The documents the rebuild produced, now behind the aliases.
		b.StopTimer()
		pprof.StopCPUProfile() // the profile is of the rebuilds only
		var docs []readstore.Write
		for _, p := range projs {
			for _, c := range p.Collections() {
				phys, err := store.Alias(ctx, c.Name)
				if err != nil {
					b.Fatal(err)
				}
				list, err := listAll(ctx, store, c.Name)
				if err != nil {
					b.Fatal(err)
				}
				size := 0
				for _, d := range list {
					docs = append(docs, readstore.Write{Collection: phys, Doc: d})
					size += len(d.Body)
				}
				if len(list) > 0 {
					b.Logf("%s: %d documents, %d bytes of JSON each on average", c.Name, len(list), size/len(list))
				}
			}
		}

		// The raw insert: the same documents, same batch size, into fresh
		// collections of the same store.
		kinds := map[string]readstore.Kind{}
		for _, p := range projs {
			for _, c := range p.Collections() {
				phys, _ := store.Alias(ctx, c.Name)
				kinds[phys] = c.Kind
			}
		}
		for i := range docs {
			docs[i].Collection = "raw_" + docs[i].Collection
		}
		// The raw insert varies by a third from run to run on this disk, so
		// it runs twice and the faster run counts: the ratio errs against
		// the rebuild.
		raw := time.Duration(1<<63 - 1)
		for range 2 {
			for phys, k := range kinds {
				if err := store.EnsureCollection(ctx, "raw_"+phys, k); err != nil {
					b.Fatal(err)
				}
			}
			t0 := time.Now()
			for i := 0; i < len(docs); i += 30000 {
				end := min(i+30000, len(docs))
				if err := store.Flush(ctx, docs[i:end], readstore.Checkpoint{Projection: "raw", Position: uint64(end), Generation: 1}); err != nil {
					b.Fatal(err)
				}
			}
			raw = min(raw, time.Since(t0))
			for phys := range kinds {
				_ = store.DropCollection(ctx, "raw_"+phys)
			}
		}
		b.ReportMetric(float64(len(docs))/raw.Seconds(), "raw-docs/s")
		b.ReportMetric(raw.Seconds()/total.Seconds(), "ratio(raw-time/rebuild-time)")
		b.Logf("%d events, %d documents: rebuild %s, raw insert %s", n, len(docs), total.Round(time.Millisecond), raw.Round(time.Millisecond))
		b.StartTimer()
	}
}

// listAll pages through a whole collection.
func listAll(ctx context.Context, s readstore.Store, coll string) ([]readstore.Doc, error) {
	var out []readstore.Doc
	after := ""
	for {
		page, err := s.List(ctx, readstore.ListQuery{Collection: coll, AfterID: after, Limit: readstore.MaxLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < readstore.MaxLimit {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// peakHeap samples the heap the Go runtime has in use (live objects and
// garbage not yet swept, without what it has given back) every 50 ms until
// the returned function is called, which reports the largest sample.
func peakHeap() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64()+sample[1].Value.Uint64())
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}
