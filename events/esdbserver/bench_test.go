package esdbserver_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

// BenchmarkDiskFsync measures this disk's write+fdatasync rate, the bound
// that group commit has to beat.
func BenchmarkDiskFsync(b *testing.B) {
	rate, err := perf.DiskFsyncs(b.TempDir(), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "fsyncs/s")
}

// BenchmarkAppend measures durable single-event appends through the v4
// client with 1, 8 and 64 concurrent writers.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			srv := esdbtest.Start(b)
			c := esdbtest.Client(b, srv)
			b.ResetTimer()
			r, err := perf.Appends(context.Background(), c, writers, b.N, srv.DB().Syncs)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(r.PerSecond, "appends/s")
			b.ReportMetric(float64(r.Latency.P50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(r.Latency.P99.Microseconds())/1000, "p99-ms")
			if r.EventsPerFsync > 0 {
				b.ReportMetric(r.EventsPerFsync, "events/fsync")
			}
		})
	}
}

// BenchmarkCatchUp measures a SubscribeToAll catch-up over a million events
// (set OMS_BENCH_EVENTS to change the count). Loading is not timed.
func BenchmarkCatchUp(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("OMS_BENCH_EVENTS"); v != "" {
		fmt.Sscan(v, &n)
	}
	dir := b.TempDir()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := esdbtest.Client(b, srv)
	const perAppend = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i += perAppend {
		batch := make([]esdb.EventData, 0, perAppend)
		for j := 0; j < perAppend && i+j < n; j++ {
			batch = append(batch, esdb.EventData{EventID: uuid.New(), EventType: "ApplicationSubmitted", ContentType: esdb.ContentTypeJson, Data: perf.Payload300})
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := c.AppendToStream(context.Background(), fmt.Sprintf("load-%d", i/perAppend%1000), esdb.AppendToStreamOptions{}, batch...); err != nil {
				b.Error(err)
			}
		}(i)
	}
	wg.Wait()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		start := time.Now()
		sub, err := c.SubscribeToAll(context.Background(), esdb.SubscribeToAllOptions{From: esdb.Start{}})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			e := sub.Recv()
			if e.SubscriptionDropped != nil {
				b.Fatal(e.SubscriptionDropped.Error)
			}
			if e.EventAppeared != nil {
				got++
			}
		}
		el := time.Since(start)
		sub.Close()
		b.ReportMetric(float64(n)/el.Seconds(), "events/s")
	}
}
