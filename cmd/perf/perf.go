// Package perf measures the figures of the performance table that need no
// running omsd: the disk's fsync rate, durable appends through the v4
// client at a given number of writers, projection rebuilds, time travel
// over a long stream and the process's resident memory. The Go benchmarks
// and `omsctl bench` both call it, so the README's one-run table and the
// benchmarks measure the same thing the same way.
package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// Payload300 is a 300-byte event payload shaped like a submission.
var Payload300 = []byte(`{"applicationId":"6f1c1f0e-8a39-4b8e-9d7e-2f0a7c3b9a11","applicant":{"lastName":"Иванов","firstName":"Иван","birthDate":"1990-01-01","citizenship":"UZB"},"residenceDocument":{"type":"vnzh","series":"82","number":"1234567"},"address":{"region":"77","city":"Москва","postalCode":"101000"}}`)

// Latency summarises durations.
type Latency struct {
	N             int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// Summarise sorts ds in place and reads its percentiles.
func Summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latency{N: len(ds), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1]}
}

// DiskFsyncs writes 300 bytes and fdatasyncs, n times, in a file under dir,
// and returns the rate: the bound a durable store without group commit
// cannot beat.
func DiskFsyncs(dir string, n int) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return 0, fmt.Errorf("perf: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.Write(Payload300); err != nil {
			return 0, fmt.Errorf("perf: write: %w", err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, fmt.Errorf("perf: fdatasync: %w", err)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// Client connects a quiet v4 client.
func Client(url string) (*esdb.Client, error) {
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		return nil, fmt.Errorf("perf: parse %s: %w", url, err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("perf: client: %w", err)
	}
	return c, nil
}

// AppendResult is the outcome of Appends.
type AppendResult struct {
	Writers int
	Events  int
	Elapsed time.Duration
	// PerSecond is acknowledged appends per second.
	PerSecond float64
	Latency   Latency
	// EventsPerFsync is how many appends shared one fsync (group commit);
	// zero when syncs was not given.
	EventsPerFsync float64
}

// Appends sends n single-event appends of Payload300 from writers
// concurrent writers, each to a stream of its own, and waits for every
// acknowledgement. syncs, if given, counts the store's fsyncs.
func Appends(ctx context.Context, c *esdb.Client, writers, n int, syncs func() uint64) (AppendResult, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var s0 uint64
	if syncs != nil {
		s0 = syncs()
	}
	prefix := uuid.NewString()[:8]
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("bench-%s-%d", prefix, w)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, esdb.EventData{
					EventID: uuid.New(), EventType: "ApplicationSubmitted", ContentType: esdb.ContentTypeJson, Data: Payload300,
				})
				lat[i] = time.Since(t0)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("perf: append: %w", err) })
					return
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return AppendResult{}, firstErr
	}
	r := AppendResult{Writers: writers, Events: n, Elapsed: el, PerSecond: float64(n) / el.Seconds(), Latency: Summarise(lat)}
	if syncs != nil {
		if d := syncs() - s0; d > 0 {
			r.EventsPerFsync = float64(n) / float64(d)
		}
	}
	return r, nil
}

// RSS returns this process's resident set size (VmRSS) and its peak
// (VmHWM) in bytes, from /proc/self/status.
func RSS() (rss, peak uint64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", "self", "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("perf: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("perf: unexpected %s line %q", k, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("perf: %s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("perf: no VmRSS in /proc/self/status")
	}
	return rss, peak, nil
}
