package memrelease

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

var sink [][]byte

func allocate(mb int) {
	for range mb {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
}

// A burst followed by quiet releases once; steady allocation, or quiet
// without a burst before it, never does.
func TestReleasesOnceAfterEachBurst(t *testing.T) {
	const interval = 200 * time.Millisecond
	var calls, drops atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Interval: interval, Burst: 64 << 20, Quiet: 4 << 20, Release: func() {
			if drops.Load() != calls.Load()+1 {
				t.Errorf("release %d after %d drops: the caches go first", calls.Load()+1, drops.Load())
			}
			calls.Add(1)
		}, Drop: func() { drops.Add(1) },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() { cancel(); <-done }()

	time.Sleep(5 * interval)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d releases while idle with no burst", n)
	}
	// Steady work: 1 MB every 10 ms, 20 MB a tick (past Quiet), 150 MB in
	// all; a tick that finds none of it would need this goroutine held off
	// for a whole interval.
	for range 150 {
		allocate(1)
		time.Sleep(interval / 20)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d releases under steady allocation", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no release after the work stopped")
		}
		time.Sleep(interval)
	}
	time.Sleep(5 * interval)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d releases after one burst, want 1", n)
	}
	allocate(100)
	deadline = time.Now().Add(5 * time.Second)
	for calls.Load() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("no release after the second burst")
		}
		time.Sleep(interval)
	}
}

// A trickle quiet in every interval never adds up to a burst, however much
// it allocates in all; a burst after it is still seen.
func TestTrickleIsNotABurst(t *testing.T) {
	const interval = 200 * time.Millisecond
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Interval: interval, Burst: 8 << 20, Quiet: 4 << 20, Release: func() { calls.Add(1) },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() { cancel(); <-done }()
	// 512 KB every 50 ms: 2 MB an interval, 24 MB in all.
	for range 48 {
		for range 8 {
			sink = append(sink, make([]byte, 64<<10))
		}
		sink = nil
		time.Sleep(interval / 4)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d releases for a trickle of 2 MB an interval", n)
	}
	allocate(32)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no release after the burst that followed the trickle")
		}
		time.Sleep(interval)
	}
}
