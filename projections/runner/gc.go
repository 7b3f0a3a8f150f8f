package runner

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultRebuildGCPercent is the collector's GOGC while one projection
// rebuilds, unless RebuildOptions says otherwise. A rebuild allocates hard
// (decoded events, views, encoded documents) while its live heap stays
// bounded by its cache, and at GOGC=100 the collector took a quarter of
// the CPU. History alone over 1M events, three pairs: 38.8k, 37.8k and
// 40.1k events/s at 300 against 31.9k, 33.3k and 35.3k at 100, its heap
// peaking at 2.05 GB against 1.02 GB (the third pair). Several
// projections in one pass hold all their caches at once, about 1 GB of
// live heap at 1M events; at 300 their heap peaked at 4.1 GB against
// 2.0 GB, for no gain (21.4k against 21.8k events/s: that pace is the
// store writer's), so a rebuild of several leaves GOGC alone.
const DefaultRebuildGCPercent = 300

// operatorGOGC reports whether the operator chose GOGC (in the
// environment, which the runtime read at start): that choice is left
// alone. A GOGC the program set itself (omsd sets one at start) is raised
// for a lone rebuild and put back after it. A variable for tests.
var operatorGOGC = func() bool { return os.Getenv("GOGC") != "" }

// rebuildGCPercent is the GOGC a rebuild of n projections asks for, with
// RebuildOptions.GCPercent requested; negative means none.
func rebuildGCPercent(requested, n int) int {
	switch {
	case requested != 0:
		return requested
	case n == 1:
		return DefaultRebuildGCPercent
	default:
		return -1
	}
}

// gcRaise is process-wide because GOGC is. GOGC is raised only while
// exactly one rebuild runs (in any runner) and that one asks for it: two
// at once hold two caches, the case a one pass showed not worth the heap.
var gcRaise struct {
	mu     sync.Mutex
	active map[*int]int // each running rebuild's requested GOGC
	raised bool
	base   int // GOGC before the raise, put back after it
}

// enterRebuild records a rebuild asking for GOGC percent (negative: none)
// and returns the call that records its end; that one is safe to call
// more than once.
func enterRebuild(percent int) (leave func()) {
	id := new(int)
	gcRaise.mu.Lock()
	if gcRaise.active == nil {
		gcRaise.active = map[*int]int{}
	}
	gcRaise.active[id] = percent
	updateGC()
	gcRaise.mu.Unlock()
	return sync.OnceFunc(func() {
		gcRaise.mu.Lock()
		delete(gcRaise.active, id)
		updateGC()
		gcRaise.mu.Unlock()
	})
}

// updateGC sets GOGC for the rebuilds now running; called under gcRaise.mu.
func updateGC() {
	want := -1
	if len(gcRaise.active) == 1 {
		for _, p := range gcRaise.active {
			want = p
		}
	}
	switch {
	case want > 0 && !gcRaise.raised:
		// Only ever raised: a GOGC already at or above the rebuild's
		// (or off) collects less often as it is.
		if base := currentGOGC(); base > 0 && base < want && !operatorGOGC() {
			gcRaise.base = base
			debug.SetGCPercent(want)
			gcRaise.raised = true
		}
	case want <= 0 && gcRaise.raised:
		debug.SetGCPercent(gcRaise.base)
		gcRaise.raised = false
	}
}

// currentGOGC reads GOGC without setting it (-1 when off).
func currentGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	v := s[0].Value.Uint64()
	if v > 1<<30 {
		return -1
	}
	return int(v)
}
