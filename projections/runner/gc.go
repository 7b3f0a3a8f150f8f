package runner

import (
	"runtime/debug"
	"sync"
)

// DefaultRebuildGCPercent is the collector's GOGC while a rebuild runs,
// unless RebuildOptions says otherwise. A rebuild allocates hard (decoded
// events, views, encoded documents) while its live heap stays bounded by
// its caches, so at GOGC=100 the collector took a quarter of the CPU.
// One pass over 200k events, two interleaved pairs: 24.0k and 23.7k
// events/s at 300 against 19.8k and 21.0k at 100, the heap let grow to
// about four times the live one instead of two meanwhile. A GOMEMLIMIT
// still bounds it.
const DefaultRebuildGCPercent = 300

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
