package sqlitestore

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckpointInterval is used when Options.CheckpointInterval is
// zero.
const DefaultCheckpointInterval = 250 * time.Millisecond

// backstopCheckpointPages is the writer's own wal_autocheckpoint: only if
// the checkpointer falls this far behind does a commit copy the WAL itself.
const backstopCheckpointPages = 100_000

// checkpointer copies the WAL into the database file on a connection of
// its own. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold, on the one writer connection: that commit copied
// tens of megabytes and synced the file while every projection's flush,
// every scan's metadata and every key waited behind it (flushes of 40-70 ms
// at p99 under 400 commands/s). A PASSIVE checkpoint elsewhere waits for
// no reader or writer, and small frequent ones keep the WAL short.
type checkpointer struct {
	db       *sql.DB
	log      *slog.Logger
	interval time.Duration
	commits  *atomic.Uint64
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		n := c.commits.Load()
		if n == seen {
			continue // nothing new in the WAL
		}
		if err := c.once(context.Background()); err != nil {
			c.log.Warn("background WAL checkpoint failed; the writer's own checkpoint is the backstop", "err", err)
			continue
		}
		seen = n
	}
}

func (c *checkpointer) once(ctx context.Context) error {
	var busy, logFrames, done int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return err
	}
	c.log.Debug("WAL checkpointed", "wal_frames", logFrames, "copied", done)
	return nil
}

// close stops the checkpointer; the store's Close may be called more than
// once.
func (c *checkpointer) close() error {
	c.closing.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
