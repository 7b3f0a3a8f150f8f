package sqlitestore

import (
	"context"
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
// leave it small, and once large ones stop it is shrunk back.
func TestWriterCacheGrowsForLargeFlushesOnly(t *testing.T) {
	ctx := context.Background()
	const idle = 2 * time.Second
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
	if got := cacheKiB(); got != smallWriterCacheKiB {
		t.Fatalf("cache at open = %d KiB, want %d", got, smallWriterCacheKiB)
	}
	flush(largeFlushWrites-1, 1)
	if got := cacheKiB(); got != smallWriterCacheKiB {
		t.Fatalf("cache after a flush of %d writes = %d KiB, want it left at %d", largeFlushWrites-1, got, smallWriterCacheKiB)
	}
	start := time.Now()
	flush(largeFlushWrites, 2)
	if got := cacheKiB(); got != largeWriterCacheKiB {
		t.Fatalf("cache after a flush of %d writes = %d KiB, want %d", largeFlushWrites, got, largeWriterCacheKiB)
	}
	for cacheKiB() != smallWriterCacheKiB {
		if time.Since(start) > idle+10*time.Second {
			t.Fatalf("cache still %d KiB %s after the last large flush", cacheKiB(), time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(start); waited < idle {
		t.Fatalf("cache shrunk after %s, before the %s idle time", waited, idle)
	}
	// Shrinking drops only cached pages: the documents are all there.
	d, err := s.GetPhysical(ctx, "docs_g1", fmt.Sprintf("d%05d", largeFlushWrites-1))
	if err != nil || d.Position != 2 {
		t.Fatalf("last document after the shrink: %+v, %v", d, err)
	}
}
