package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/procs"
)

// BenchmarkOmsdMemory is omsctl bench's memory stage with a breakdown: a
// whole omsd on embedded stores follows OMS_BENCH_EVENTS application events
// (default 200k; the README's figure uses 1M) appended through its own
// event store client (MeasureRSS). It reports VmRSS when the projections
// caught up and at rest, and then, after a collection forced here, the
// anonymous memory (the Go heap and SQLite's page caches, without mapped
// files), the live Go heap and what Go holds from the OS; the difference
// is mostly SQLite. OMS_BENCH_MEMPROFILE=FILE saves that heap's profile.
//
//	OMS_BENCH_EVENTS=1000000 go test -run '^$' -bench OmsdMemory -benchtime 1x ./cmd/internal/bench/
func BenchmarkOmsdMemory(b *testing.B) {
	procs.Tune(os.Getenv) // as omsd runs, and as omsctl bench's memory stage
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("OMS_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		var ms runtime.MemStats
		var anon, settled uint64
		r, err := measureRSS(context.Background(), filepath.Join(b.TempDir(), "omsd"), n, nil, func(*app.App) error {
			var err error
			if anon, err = rssAnon(); err != nil {
				return err
			}
			runtime.GC()
			debug.FreeOSMemory()
			if f := os.Getenv("OMS_BENCH_MEMPROFILE"); f != "" {
				if err := writeHeapProfile(f); err != nil {
					return err
				}
			}
			runtime.ReadMemStats(&ms)
			settled, err = rssAnon()
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%d events appended and projected in %s; memory read %s after", n, r.Fill.Round(1e9), r.Rest)
		b.ReportMetric(float64(r.CaughtUp)/(1<<20), "rss-caught-up-MB")
		b.ReportMetric(float64(r.RSS)/(1<<20), "rss-MB")
		b.ReportMetric(float64(r.Peak)/(1<<20), "peak-MB")
		b.ReportMetric(float64(anon)/(1<<20), "rss-anon-MB")
		b.ReportMetric(float64(settled)/(1<<20), "rss-anon-after-gc-MB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MB")
		b.ReportMetric(float64(ms.Sys-ms.HeapReleased)/(1<<20), "go-held-MB")
	}
}

// writeHeapProfile saves the live heap to path: go test's own
// -memprofile is written after the app has closed, when its caches are gone.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
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
