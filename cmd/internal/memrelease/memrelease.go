// Package memrelease hands memory back to the OS once a burst of work is
// over. Go collects when the heap reaches a multiple of what was live after
// the last collection (twice at GOGC=100, three times at omsd's 200), and a
// process that goes quiet allocates nothing that
// would start one: after omsd caught up with a million events, its heap
// kept the burst's garbage (the live heap was 72 MB of 125 MB in use
// after 200k events) until the runtime's two-minute forced collection.
// Under steady load the pacer does its work and this stays out of the way.
package memrelease

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults for Options' zero fields.
const (
	DefaultInterval = 5 * time.Second
	DefaultBurst    = 256 << 20
	DefaultQuiet    = 8 << 20
)

// Options tune Run.
type Options struct {
	// Interval is how often the allocation counter is read.
	Interval time.Duration
	// Burst is how much must have been allocated since the last release
	// for one to be worth a full collection.
	Burst uint64
	// Quiet is the most an interval may allocate and still count as idle
	// (in proportion for an interval that ran long).
	Quiet uint64
	// Drop is called first, to empty caches worth their memory only
	// while busy; nil drops nothing.
	Drop func()
	// Release gives the memory back; nil means debug.FreeOSMemory.
	Release func()
	Logger  *slog.Logger
}

const allocsMetric = "/gc/heap/allocs:bytes"

// Run releases memory after each burst until ctx ends.
func Run(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Quiet == 0 {
		o.Quiet = DefaultQuiet
	}
	if o.Release == nil {
		o.Release = debug.FreeOSMemory
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	sample := []metrics.Sample{{Name: allocsMetric}}
	allocated := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0 // not in this runtime: never a burst
		}
		return sample[0].Value.Uint64()
	}
	// base is the allocation count at the last release or the last quiet
	// interval: a burst is what was allocated since then without a pause,
	// so a steady trickle, quiet in every interval, never adds up to one.
	base := allocated()
	prev, prevAt := base, time.Now()
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := time.Now()
		elapsed := at.Sub(prevAt)
		if elapsed < o.Interval/2 {
			// A tick delivered late and the next one on time: too short
			// an interval to tell quiet from busy.
			continue
		}
		now := allocated()
		quiet := float64(now-prev) <= float64(o.Quiet)*elapsed.Seconds()/o.Interval.Seconds()
		switch {
		case quiet && now-base >= o.Burst:
			start := time.Now()
			if o.Drop != nil {
				o.Drop()
			}
			o.Release()
			o.Logger.Debug("memory released after a burst", "allocated_mb", (now-base)>>20, "took", time.Since(start))
			now = allocated()
			base = now
		case quiet:
			base = now
		}
		prev, prevAt = now, at
	}
}
