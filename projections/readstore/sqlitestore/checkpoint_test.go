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
