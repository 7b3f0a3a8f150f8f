package runner

import (
	"math"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCacheBytes is a projection's cache budget, in bytes of the
// documents as the store keeps them (their JSON); a document costs the
// process about twice that as Go values. Without a bound by size, omsd
// held 1.35 GB of live heap after following 1M events, nearly all of it
// these caches; at 16 MiB each they were still 110 MB of the 157 MB live
// heap after 200k events, with following no faster than at 4 MiB (38 s
// against 36 s for those 200k). A rebuild reads back far more documents
// per event and gets a budget of its own (rebuildCacheBytes): the larger
// of DefaultRebuildCacheBytes and RebuildCacheFactor times the live one,
// or only the latter when the live one was set below its default, unless
// RebuildOptions says otherwise; it is given back at the switch.
const (
	DefaultCacheBytes        = 4 << 20
	DefaultRebuildCacheBytes = 64 << 20
	RebuildCacheFactor       = 4
)

// entryOverhead is what an entry costs besides its document and key: the
// entry itself, its LRU element and map slot.
const entryOverhead = 192

// docCache holds flushed documents, least recently used first out, within
// a budget of approximate bytes. A document put into it before the store
// has encoded it is counted at its collection's average size (sizes).
type docCache struct {
	lru    *simplelru.LRU[key, *entry]
	budget int64
	bytes  int64
}

func newDocCache(budget int64) *docCache {
	// The count limit is never the one reached: the budget is.
	l, _ := simplelru.NewLRU[key, *entry](math.MaxInt32, nil)
	return &docCache{lru: l, budget: max(budget, 1)}
}

func (c *docCache) get(k key) (*entry, bool) { return c.lru.Get(k) }

func (c *docCache) len() int { return c.lru.Len() }

// has reports whether the cache holds the key, without making it recent.
func (c *docCache) has(k key) bool { return c.lru.Contains(k) }

func (c *docCache) keys() []key { return c.lru.Keys() }

// put adds or replaces a document and reports the keys it evicted to stay
// within the budget (the newest document is never evicted).
func (c *docCache) put(k key, e *entry, cost int64, evicted func(key)) {
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= old.cost
	}
	e.cost = cost
	c.lru.Add(k, e)
	c.bytes += cost
	for c.bytes > c.budget && c.lru.Len() > 1 {
		ek, ee, _ := c.lru.RemoveOldest()
		c.bytes -= ee.cost
		if evicted != nil {
			evicted(ek)
		}
	}
}

// shrink lowers the budget (a rebuilt cache handed to the live
// projection) and evicts down to it.
func (c *docCache) shrink(budget int64) {
	c.budget = max(budget, 1)
	for c.bytes > c.budget && c.lru.Len() > 0 {
		_, ee, _ := c.lru.RemoveOldest()
		c.bytes -= ee.cost
	}
}

// sizes are the average encoded sizes of a projection's documents per
// logical collection, as of its last flush. The flush encodes off the
// state's lock, so they are atomics in a map fixed at construction.
type sizes map[string]*atomic.Int64

// defaultDocSize stands for a collection not flushed yet.
const defaultDocSize = 1024

func newSizes(p Projection) sizes {
	s := sizes{}
	for _, c := range p.Collections() {
		v := &atomic.Int64{}
		v.Store(defaultDocSize)
		s[c.Name] = v
	}
	return s
}

func (s sizes) of(coll string) int64 {
	if v, ok := s[coll]; ok {
		return v.Load()
	}
	return defaultDocSize
}
