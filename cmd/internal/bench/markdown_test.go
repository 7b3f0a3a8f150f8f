package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/loadgen"
	"github.com/omsonline/oms/cmd/perf"
)

func TestMarkdown(t *testing.T) {
	r := Report{Machine: "2 vCPU (test)", Started: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Elapsed: time.Minute, Options: Defaults(),
		Fsyncs:  5000,
		Appends: perf.AppendResult{Writers: 64, Events: 200_000, PerSecond: 21000, Latency: perf.Latency{P50: 3 * time.Millisecond, P99: 7 * time.Millisecond}, EventsPerFsync: 17},
		Submit:  SubmitResult{Workers: 16, Submitted: 30000, PerSecond: 3100, Elapsed: 10 * time.Second, Latency: perf.Latency{P50: 5 * time.Millisecond, P99: 20 * time.Millisecond}},
		RYW:     loadgen.Stats{Throughput: 499, ReadYourWrite: loadgen.Latency{P50: 30 * time.Millisecond, P99: 90 * time.Millisecond}},
		Rebuild: perf.RebuildResult{Projections: []perf.ProjectionRate{{Name: "history", Events: 200_004, PerSecond: 16000}, {Name: "queue", Events: 200_004, PerSecond: 60000}}},
		Travel:  perf.Latency{N: 300, P50: 4 * time.Millisecond, P99: 9 * time.Millisecond},
		RSS:     RSSResult{Events: 1_000_002, CaughtUp: 900 << 20, RSS: 220 << 20, Peak: 950 << 20, Rest: 12 * time.Second},
	}
	md := r.Markdown()
	for _, want := range []string{
		"| embedded store appends/s at 64 writers | 21.0k/s (200k appends; p50 3.00 ms, p99 7.00 ms; 17.0 events per fsync) | ≥ 20k | yes |",
		"| the same ÷ the disk's fsyncs/s | 21.0k ÷ 5.0k fsyncs/s = 4.2 | ≥ 4 | yes |",
		"3.1k/s at p99 20.0 ms", "| ≥ 3k/s at p99 ≤ 25 ms | yes |",
		"| read-your-writes p99 at 500 cmd/s | p99 90.0 ms",
		"history 16.0k, queue 60.0k (200k events", "| ≥ 50k | **no** |",
		"| RSS after 1M events (omsd, embedded stores) | 220 MB at rest, 12s after its projections caught up (900 MB when they did; peak 950 MB;",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the table lacks %q:\n%s", want, md)
		}
	}
}
