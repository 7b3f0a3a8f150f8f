package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/procs"
)

// BenchmarkSubmit runs the SubmitApplication stage alone, so that its
// profile (-cpuprofile) holds nothing of the other stages:
//
//	go test -run '^$' -bench Submit -benchtime 1x -cpuprofile cpu.out ./cmd/internal/bench/
//
// OMS_BENCH_SUBMIT_SECONDS (default 10) sets how long it drives, and
// OMS_BENCH_SUBMIT_CLIENTS (default 16) how many clients submit at once (1
// shows a submission's own latency, without queueing).
func BenchmarkSubmit(b *testing.B) {
	procs.Tune(os.Getenv) // as omsd runs
	o := Defaults()
	o.Dir = b.TempDir()
	o.SubmitApplicants = 200
	if s := os.Getenv("OMS_BENCH_SUBMIT_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			b.Fatal(err)
		}
		o.SubmitDuration = d
	}
	if s := os.Getenv("OMS_BENCH_SUBMIT_CLIENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("OMS_BENCH_SUBMIT_CLIENTS=%q: want a positive number", s)
		}
		o.SubmitWorkers = n
	}
	for i := 0; i < b.N; i++ {
		r, err := submit(context.Background(), &o)
		if err != nil {
			b.Fatal(err)
		}
		if r.Errors > 0 {
			b.Fatalf("%d submissions failed, the first: %s", r.Errors, r.FirstError)
		}
		b.ReportMetric(r.PerSecond, "submits/s")
		b.ReportMetric(float64(r.Latency.P50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(r.Latency.P99.Microseconds())/1000, "p99-ms")
	}
}
