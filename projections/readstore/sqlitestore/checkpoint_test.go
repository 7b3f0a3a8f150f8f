package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
)

// The WAL reaches the database file without any commit doing it: the
// writer's own automatic checkpoint is only a backstop far above what this
// test writes, so a database file that grows to hold the documents shows
// the background checkpointer at work.
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Logger: quietLogger(), CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != backstopCheckpointPages {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want the backstop %d", pages, err, backstopCheckpointPages)
	}
	db := filepath.Join(dir, dbFileName)
	before := fileSize(t, db)
	body := `{"text":"` + strings.Repeat("x", 2000) + `"}`
	var writes []readstore.Write
	for i := range 1000 { // 2 MB, a few hundred pages
		writes = append(writes, readstore.Write{Collection: "docs_g1", Doc: readstore.Doc{ID: fmt.Sprintf("d%04d", i), Position: 1, Body: []byte(body)}})
	}
	if err := s.Flush(ctx, writes, readstore.Checkpoint{Projection: "p", Position: 1, Generation: 1}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, db) < before+2_000_000 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes (%d before the writes): nothing checkpointed the WAL", fileSize(t, db), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCloseTwice(t *testing.T) {
	s, err := Open(context.Background(), Options{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The writer's page cache is large only around large flushes: small ones
// leave it small, a large one in flight keeps it large however long it
// takes, and once large ones stop it is shrunk back, to grow again for the
// next.
func TestWriterCacheGrowsForLargeFlushesOnly(t *testing.T) {
	ctx := context.Background()
	const idle = time.Second // the margin for the checks made right after a flush
	s, err := Open(ctx, Options{Dir: t.TempDir(), Logger: quietLogger(), WriterCacheIdle: idle})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	cacheKiB := func() int {
		t.Helper()
		var v int
		if err := s.w.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return -v
	}
	flush := func(n int, pos uint64) {
		t.Helper()
		writes := make([]readstore.Write, n)
		for i := range writes {
			writes[i] = readstore.Write{Collection: "docs_g1", Doc: readstore.Doc{ID: fmt.Sprintf("d%05d", i), Position: pos, Body: []byte(`{"n":1}`)}}
		}
		if err := s.Flush(ctx, writes, readstore.Checkpoint{Projection: "p", Position: pos, Generation: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// shrinks waits for the cache to be small again and returns how long
	// that took from since.
	shrinks := func(since time.Time) time.Duration {
		t.Helper()
		for cacheKiB() != smallWriterCacheKiB {
			if time.Since(since) > idle+10*time.Second {
				t.Fatalf("cache still %d KiB %s after the last large flush", cacheKiB(), time.Since(since))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(since)
	}
	if got := cacheKiB(); got != smallWriterCacheKiB {
		t.Fatalf("cache at open = %d KiB, want %d", got, smallWriterCacheKiB)
	}
	flush(largeFlushWrites-1, 1)
	if got := cacheKiB(); got != smallWriterCacheKiB {
		t.Fatalf("cache after a flush of %d writes = %d KiB, want it left at %d", largeFlushWrites-1, got, smallWriterCacheKiB)
	}

	// A large flush that outlasts the idle time, as a rebuild's may.
	s.wcache.reserve(ctx, largeFlushWrites)
	time.Sleep(idle * 3 / 2)
	if got := cacheKiB(); got != largeWriterCacheKiB {
		t.Fatalf("cache %d KiB while a large flush is in flight, want %d", got, largeWriterCacheKiB)
	}
	s.wcache.flushed(largeFlushWrites)
	ended := time.Now()
	if got := cacheKiB(); got != largeWriterCacheKiB {
		t.Fatalf("cache %d KiB right after a long large flush ended, want %d", got, largeWriterCacheKiB)
	}
	if waited := shrinks(ended); waited < idle {
		t.Fatalf("cache shrunk %s after the flush, before the %s idle time", waited, idle)
	}

	// The next large flush grows it again.
	flush(largeFlushWrites, 2)
	ended = time.Now()
	if got := cacheKiB(); got != largeWriterCacheKiB {
		t.Fatalf("cache after a flush of %d writes = %d KiB, want %d", largeFlushWrites, got, largeWriterCacheKiB)
	}
	shrinks(ended)
	// Shrinking drops only cached pages: the documents are all there.
	d, err := s.GetPhysical(ctx, "docs_g1", fmt.Sprintf("d%05d", largeFlushWrites-1))
	if err != nil || d.Position != 2 {
		t.Fatalf("last document after the shrink: %+v, %v", d, err)
	}
}

// A checkpoints table from before fencing tokens gets its column on open,
// keeps its checkpoints, and fences from then on.
func TestFenceColumnAdded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir)
	if err := s.Flush(ctx, nil, readstore.Checkpoint{Projection: "cabinet", Position: 42, Generation: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `ALTER TABLE readstore_checkpoints DROP COLUMN fence`)
		return err
	}); err != nil {
		t.Fatalf("make the old table: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDir(t, dir)
	defer s.Close()
	cp, err := s.LoadCheckpoint(ctx, "cabinet")
	if err != nil || cp.Position != 42 || cp.Generation != 3 || cp.Fence != 0 {
		t.Fatalf("checkpoint after the upgrade: %+v, %v; want position 42, generation 3, no fence", cp, err)
	}
	if err := s.Flush(ctx, nil, readstore.Checkpoint{Projection: "cabinet", Position: 50, Generation: 3, Fence: 4}); err != nil {
		t.Fatalf("fenced flush after the upgrade: %v", err)
	}
	err = s.Flush(ctx, nil, readstore.Checkpoint{Projection: "cabinet", Position: 51, Generation: 3, Fence: 2})
	if !errors.Is(err, readstore.ErrFenced) {
		t.Fatalf("stale flush after the upgrade: %v, want ErrFenced", err)
	}
}
