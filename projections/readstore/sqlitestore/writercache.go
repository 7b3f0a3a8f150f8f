package sqlitestore

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// The writer's page cache must hold a large flush's dirty pages (see Open),
// but kept at that size it stays full of clean pages after a rebuild or a
// catch-up, memory held for nothing while projections follow a few
// documents at a time. It costs more than its nominal size: modernc's
// allocator hands SQLite's 4.2 KiB page buffers 8 KiB slots, so a full
// 256 MiB cache was measured at 468 MB of anonymous memory; shrunk to
// 16 MiB it held 125 MB, and after shrink_memory 43 MB. So the cache grows
// before a flush with many writes and is shrunk and emptied once no such
// flush came for a while.
const (
	smallWriterCacheKiB = 16 << 10
	largeWriterCacheKiB = 256 << 10
	// largeFlushWrites is the size of flush that gets the large cache: at
	// a few dirty pages per written document (a table leaf, index leaves),
	// a thousand writes can already fill the small one, and a spilled page
	// is written to the WAL twice.
	largeFlushWrites = 1000
	// DefaultWriterCacheIdle is used when Options.WriterCacheIdle is zero.
	DefaultWriterCacheIdle = 5 * time.Second
)

// writerCache sizes the writer connection's page cache. The writer is a
// pool of exactly one connection, so a PRAGMA on the pool reaches it.
type writerCache struct {
	db   *sql.DB
	log  *slog.Logger
	idle time.Duration

	mu    sync.Mutex
	large bool
	// inFlight counts large flushes between reserve and flushed: none may
	// find the cache shrunk under it, however long it takes. lastLarge is
	// when the last of them ended.
	inFlight  int
	lastLarge time.Time

	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

func newWriterCache(db *sql.DB, log *slog.Logger, idle time.Duration) *writerCache {
	if idle <= 0 {
		idle = DefaultWriterCacheIdle
	}
	c := &writerCache{db: db, log: log, idle: idle, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// reserve grows the cache before a flush of n writes, if n is large; a
// reserve of n must be followed by flushed(n). A failure only costs
// speed, so it is logged, not returned.
func (c *writerCache) reserve(ctx context.Context, n int) {
	if n < largeFlushWrites {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight++
	if c.large {
		return
	}
	if _, err := c.db.ExecContext(ctx, cacheSizePragma(largeWriterCacheKiB)); err != nil {
		c.log.Warn("could not grow the writer's page cache; a large flush may spill to the WAL", "err", err)
		return
	}
	c.large = true
}

// flushed marks the end of a flush of n writes; the idle time counts from
// there.
func (c *writerCache) flushed(n int) {
	if n < largeFlushWrites {
		return
	}
	c.mu.Lock()
	c.inFlight--
	c.lastLarge = time.Now()
	c.mu.Unlock()
}

func (c *writerCache) run() {
	defer close(c.done)
	// A shrink waiting for the connection behind a long write must not
	// hold up Close.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	t := time.NewTicker(max(c.idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.shrinkIfIdle(ctx)
	}
}

// shrinkIfIdle holds mu through its PRAGMAs, so a large flush that starts
// meanwhile waits in reserve and then grows the cache again; with none in
// flight, the connection it waits for is busy with small writes only.
func (c *writerCache) shrinkIfIdle(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.large || c.inFlight > 0 || time.Since(c.lastLarge) < c.idle {
		return
	}
	// Lowering cache_size frees the pages past the new bound;
	// shrink_memory then frees the clean ones under it too, so the
	// allocator's regions empty and go back to the OS.
	if _, err := c.db.ExecContext(ctx, cacheSizePragma(smallWriterCacheKiB)); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("could not shrink the writer's page cache", "err", err)
		}
		return
	}
	c.large = false
	if _, err := c.db.ExecContext(ctx, `PRAGMA shrink_memory`); err != nil && ctx.Err() == nil {
		c.log.Warn("could not release the writer's page cache", "err", err)
	}
}

func (c *writerCache) close() {
	c.closing.Do(func() { close(c.stop) })
	<-c.done
}

// cacheSizePragma sets the cache in KiB (SQLite takes a negative number as
// KiB, a positive one as pages).
func cacheSizePragma(kib int) string {
	return `PRAGMA cache_size = -` + strconv.Itoa(kib)
}
