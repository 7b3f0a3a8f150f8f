package app_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/loadgen"
	"github.com/omsonline/oms/cmd/internal/procs"
)

// BenchmarkReadYourWrites runs the journey against a whole omsd on the
// embedded stores at OMS_BENCH_RATE commands/s (default 500) for
// OMS_BENCH_SECONDS (default 10) and reports command and read-your-writes
// latency. Its data dir is a test temp dir, deleted at the end: on a disk
// without a journal (ext4 in no-journal mode, as the development VM's) a
// run started within minutes of another run's cleanup pays up to 1 ms of
// CPU for each of its scan files, and reports a worse tail; point TMPDIR
// at a fresh directory to compare builds.
func BenchmarkReadYourWrites(b *testing.B) {
	rate, secs := 500.0, 10
	if v, err := strconv.ParseFloat(os.Getenv("OMS_BENCH_RATE"), 64); err == nil {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("OMS_BENCH_SECONDS")); err == nil {
		secs = v
	}
	procs.Tune(os.Getenv) // as omsd runs
	a, cfg := startAppB(b)
	key, err := authn.DevKey(cfg.DataDir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := loadgen.Run(context.Background(), loadgen.Options{
			BaseURL: "http://" + a.HTTPAddr(), Rate: rate, Duration: time.Duration(secs) * time.Second,
			Token: func(role, subject string) (string, error) { return authn.IssueDev(key, subject, role, time.Hour) },
		})
		if err != nil {
			b.Fatal(err)
		}
		if st.Errors > 0 {
			b.Errorf("%d errors, first: %v", st.Errors, st.FirstErrors)
		}
		b.ReportMetric(st.Throughput, "cmd/s")
		b.ReportMetric(float64(st.All.P50.Microseconds())/1000, "cmd-p50-ms")
		b.ReportMetric(float64(st.All.P99.Microseconds())/1000, "cmd-p99-ms")
		b.ReportMetric(float64(st.ReadYourWrite.P50.Microseconds())/1000, "ryw-p50-ms")
		b.ReportMetric(float64(st.ReadYourWrite.P99.Microseconds())/1000, "ryw-p99-ms")
		b.ReportMetric(float64(st.StaffReadYourWrite.P99.Microseconds())/1000, "staff-ryw-p99-ms")
		for name, l := range st.ByCommand {
			b.Logf("%-13s n=%-6d p50=%-8s p95=%-8s p99=%s", name, l.N, l.P50.Round(time.Microsecond), l.P95.Round(time.Microsecond), l.P99.Round(time.Microsecond))
		}
		b.Logf("read-your-writes (cabinet) n=%d p50=%s p95=%s p99=%s max=%s", st.ReadYourWrite.N, st.ReadYourWrite.P50, st.ReadYourWrite.P95, st.ReadYourWrite.P99, st.ReadYourWrite.Max)
		s := st.StaffReadYourWrite
		b.Logf("read-your-writes (reviewer's view) n=%d p50=%s p95=%s p99=%s max=%s", s.N, s.P50, s.P95, s.P99, s.Max)
	}
}
