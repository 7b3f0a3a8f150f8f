package runner

import (
	"runtime/debug"
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
// store writer's), so a rebuild of several leaves GOGC alone. A GOMEMLIMIT
// still bounds either.
const DefaultRebuildGCPercent = 300

// rebuildGCPercent is the GOGC a rebuild of n projections runs with, for
// RebuildOptions.GCPercent requested; negative means leave it alone.
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

// gcRaise is process-wide because GOGC is: the first rebuild to start,
// in any runner, raises it, and the last to end puts back what it was.
var gcRaise struct {
	mu      sync.Mutex
	n       int
	restore int
}

// raiseGC sets GOGC to percent for the caller's duration; restore (safe
// to call more than once) ends it. percent < 0 leaves GOGC alone.
func raiseGC(percent int) (restore func()) {
	if percent < 0 {
		return func() {}
	}
	gcRaise.mu.Lock()
	defer gcRaise.mu.Unlock()
	if gcRaise.n == 0 {
		gcRaise.restore = debug.SetGCPercent(percent)
	}
	gcRaise.n++
	return sync.OnceFunc(func() {
		gcRaise.mu.Lock()
		defer gcRaise.mu.Unlock()
		gcRaise.n--
		if gcRaise.n == 0 {
			debug.SetGCPercent(gcRaise.restore)
		}
	})
}
