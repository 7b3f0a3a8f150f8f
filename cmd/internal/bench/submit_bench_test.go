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
// OMS_BENCH_SUBMIT_APPLICANTS (default 15000, as omsctl bench) sets how many
// people are prepared, each to submit once, and OMS_BENCH_CPUPROFILE=FILE
// profiles the timed submissions without the uploads before them (instead
// of -cpuprofile, not with it; one iteration's worth, so with -benchtime 1x).
// OMS_BENCH_SUBMIT_PROJECTIONS=off runs the node without projections
// (OMS_RUN_PROJECTIONS=false): the commands' own cost, a bound on the rate.
func BenchmarkSubmit(b *testing.B) {
	procs.Tune(os.Getenv) // as omsd runs
	o := Defaults()
	o.Dir = b.TempDir()
	if s := os.Getenv("OMS_BENCH_SUBMIT_APPLICANTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("OMS_BENCH_SUBMIT_APPLICANTS=%q: want a positive number", s)
		}
		o.SubmitApplicants = n
	}
	switch v := os.Getenv("OMS_BENCH_SUBMIT_PROJECTIONS"); v {
	case "", "on":
	case "off":
		o.SubmitWithoutProjections = true
	default:
		b.Fatalf("OMS_BENCH_SUBMIT_PROJECTIONS=%q: want on or off", v)
	}
	if f := os.Getenv("OMS_BENCH_CPUPROFILE"); f != "" {
		if b.N > 1 {
			b.Fatal("OMS_BENCH_CPUPROFILE profiles one iteration: run with -benchtime 1x")
		}
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		o.SubmitProfile = out
	}
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
		b.ReportMetric(r.AllocPerSubmit/1024, "KB-alloc/submit")
		b.ReportMetric(float64(r.GCs)/r.Elapsed.Seconds(), "GCs/s")
		if r.CPUPerSubmit > 0 {
			b.ReportMetric(float64(r.CPUPerSubmit.Microseconds())/1000, "cpu-ms/submit")
		}
	}
}
