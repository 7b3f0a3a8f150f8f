package runner

import (
	"fmt"
	"runtime/debug"
	"slices"
	"testing"
)

// The cache keeps what was used last within its budget, counts a replaced
// document once, and lowers to a smaller budget on demand.
func TestDocCacheEvictsLeastRecentlyUsedPastItsBudget(t *testing.T) {
	c := newDocCache(300)
	var evicted []string
	put := func(id string, cost int64) {
		c.put(key{"docs", id}, &entry{id: id}, cost, func(k key) { evicted = append(evicted, k.id) })
	}
	put("a", 100)
	put("b", 100)
	put("c", 100)
	if len(evicted) > 0 || c.bytes != 300 {
		t.Fatalf("within budget: evicted %v, %d bytes", evicted, c.bytes)
	}
	if _, ok := c.get(key{"docs", "a"}); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	put("b", 150) // replaced: counts 150 instead of 100, so c (oldest) goes
	if !slices.Equal(evicted, []string{"c"}) || c.bytes != 250 {
		t.Fatalf("after replacing b: evicted %v, %d bytes; want [c], 250", evicted, c.bytes)
	}
	put("d", 1000) // larger than the budget alone: everything else goes, d stays
	if !slices.Equal(evicted, []string{"c", "a", "b"}) || c.len() != 1 || c.bytes != 1000 {
		t.Fatalf("after d: evicted %v, %d left, %d bytes", evicted, c.len(), c.bytes)
	}
	put("e", 10)
	c.shrink(10)
	if _, ok := c.get(key{"docs", "e"}); !ok || c.len() != 1 || c.bytes != 10 {
		t.Fatalf("after shrink: %d left, %d bytes, e kept %v", c.len(), c.bytes, ok)
	}
}

// A document of an uncached collection never takes a place in the cache.
func TestUncachedDocumentsTakeNoCachePlace(t *testing.T) {
	st := &state{uncached: map[string]bool{"journal": true}, cacheBytes: 1 << 20, sizes: sizes{}}
	st.remember(key{"journal", "s-1/0001"}, &entry{val: map[string]int{"rev": 1}})
	if st.cache != nil && st.cache.len() > 0 {
		t.Fatalf("an uncached document is cached (%d entries)", st.cache.len())
	}
	st.remember(key{"counts", "s-1"}, &entry{val: map[string]int{"n": 1}})
	if st.cache == nil || st.cache.len() != 1 {
		t.Fatal("a cached collection's document is not cached")
	}
}

// A rebuild's default budget: 64 MiB at least with the default live one or
// more, but a live budget set below the default lowers the rebuild's too.
func TestRebuildCacheBudget(t *testing.T) {
	for _, c := range []struct{ live, want int64 }{
		{DefaultCacheBytes, DefaultRebuildCacheBytes},
		{32 << 20, 128 << 20},
		{1 << 20, 4 << 20},
		{DefaultCacheBytes - 1, RebuildCacheFactor * (DefaultCacheBytes - 1)},
	} {
		if got := rebuildCacheBytes(c.live); got != c.want {
			t.Errorf("live %d: rebuild %d, want %d", c.live, got, c.want)
		}
	}
}

// GOGC is raised only while exactly one rebuild asking for it runs, and
// put back to what it was, the runtime's default or the program's own; an
// operator's setting, or one already at or above the rebuild's, is left
// alone.
func TestRebuildGOGCPolicy(t *testing.T) {
	orig := currentGOGC()
	defer debug.SetGCPercent(orig)
	operator := false
	defer func(f func() bool) { operatorGOGC = f }(operatorGOGC)
	operatorGOGC = func() bool { return operator }
	expect := func(step string, want int) {
		t.Helper()
		if got := currentGOGC(); got != want {
			t.Fatalf("%s: GOGC %d, want %d", step, got, want)
		}
	}
	for _, base := range []int{100, 200} { // the runtime's, omsd's
		debug.SetGCPercent(base)
		a := enterRebuild(300)
		expect("one rebuild", 300)
		b := enterRebuild(-1)
		expect("a second rebuild beside it", base)
		b()
		expect("the second ended", 300)
		c := enterRebuild(250)
		expect("two rebuilds asking", base)
		a()
		a() // a second call is a no-op
		expect("the first ended", 250)
		c()
		expect("all ended", base)
	}

	for _, c := range []struct {
		gogc     int
		operator bool
	}{{50, true}, {200, true}, {1000, false}, {300, false}, {-1, false}, {-1, true}} {
		debug.SetGCPercent(c.gogc)
		operator = c.operator
		leave := enterRebuild(300)
		expect(fmt.Sprintf("GOGC %d (operator's: %v) during a rebuild", c.gogc, c.operator), c.gogc)
		leave()
		expect(fmt.Sprintf("GOGC %d (operator's: %v) after it", c.gogc, c.operator), c.gogc)
	}
}

func TestRebuildGCPercentDefaults(t *testing.T) {
	for _, c := range []struct{ requested, n, want int }{
		{0, 1, DefaultRebuildGCPercent}, // one projection: raised
		{0, 5, -1},                      // one pass of several: left alone
		{150, 5, 150},
		{-1, 1, -1},
	} {
		if got := rebuildGCPercent(c.requested, c.n); got != c.want {
			t.Errorf("requested %d for %d projections: %d, want %d", c.requested, c.n, got, c.want)
		}
	}
}
