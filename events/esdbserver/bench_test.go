package esdbserver_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

var payload300 = []byte(`{"applicationId":"6f1c1f0e-8a39-4b8e-9d7e-2f0a7c3b9a11","applicant":{"lastName":"Иванов","firstName":"Иван","birthDate":"1990-01-01","citizenship":"UZB"},"residenceDocument":{"type":"vnzh","series":"82","number":"1234567"},"address":{"region":"77","city":"Москва","postalCode":"101000"}}`)

// BenchmarkDiskFsync measures this disk's write+fdatasync rate, the bound
// that group commit has to beat.
func BenchmarkDiskFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(payload300); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}

// BenchmarkAppend measures durable single-event appends through the v4
// client with 1, 8 and 64 concurrent writers.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			srv := esdbtest.Start(b)
			c := esdbtest.Client(b, srv)
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			syncs0 := srv.DB().Syncs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					stream := fmt.Sprintf("bench-%d", w)
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						_, err := c.AppendToStream(context.Background(), stream, esdb.AppendToStreamOptions{}, esdb.EventData{
							EventID: uuid.New(), EventType: "ApplicationSubmitted", ContentType: esdb.ContentTypeJson, Data: payload300,
						})
						lat[i] = time.Since(t0)
						if err != nil {
							b.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			syncs := srv.DB().Syncs() - syncs0
			b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			if syncs > 0 {
				b.ReportMetric(float64(b.N)/float64(syncs), "events/fsync")
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
			batch = append(batch, esdb.EventData{EventID: uuid.New(), EventType: "ApplicationSubmitted", ContentType: esdb.ContentTypeJson, Data: payload300})
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
