package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/benchload"
)

// BenchmarkOmsdMemory runs a whole omsd on embedded stores, appends
// OMS_BENCH_EVENTS application events (default 200k; the README's figure
// uses 1M) through omsd's own event store client while its projections
// follow, waits until every projection has caught up, and reports the
// process's memory: VmRSS then, its anonymous part (the Go heap and
// SQLite's page caches, without mapped files), and the live Go heap after
// a collection. Unlike omsctl bench's memory figure, which holds only the
// event store, this is everything omsd keeps for that history.
//
//	OMS_BENCH_EVENTS=1000000 go test -run '^$' -bench OmsdMemory -benchtime 1x ./cmd/internal/bench/
func BenchmarkOmsdMemory(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("OMS_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		o := Defaults()
		o.Log = quiet
		a, _, err := startApp(ctx, &o, filepath.Join(b.TempDir(), "omsd"))
		if err != nil {
			b.Fatal(err)
		}
		closed := false
		b.Cleanup(func() {
			if !closed {
				_ = a.Close()
			}
		})
		start := time.Now()
		if err := benchload.Fill(ctx, a.Events(), n, 32, nil); err != nil {
			b.Fatal(err)
		}
		head, err := a.Events().Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range a.Runner().Names() {
			wctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
			err := a.Runner().WaitFor(wctx, name, head)
			cancel()
			if err != nil {
				b.Fatalf("%s did not catch up: %v", name, err)
			}
		}
		b.Logf("%d events appended and projected in %s", n, time.Since(start).Round(time.Second))
		rss, peak, err := perf.RSS()
		if err != nil {
			b.Fatal(err)
		}
		anon, err := rssAnon()
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
		b.ReportMetric(float64(anon)/(1<<20), "rss-anon-MB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MB")
		// What Go holds from the OS after the collection, against what the
		// process holds: the difference is mostly SQLite's page caches.
		b.ReportMetric(float64(ms.Sys-ms.HeapReleased)/(1<<20), "go-held-MB")
		if settled, err := rssAnon(); err == nil {
			b.ReportMetric(float64(settled)/(1<<20), "rss-anon-after-gc-MB")
		}
		closed = true
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// rssAnon reads RssAnon from /proc/self/status, in bytes.
func rssAnon() (uint64, error) {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "RssAnon:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, os.ErrNotExist
}
