package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An older version kept the keys in readmodels.db; opening moves them into
// the vault, erasures included, and leaves none behind.
func TestKeysMoveOutOfTheReadModels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The old layout: the table in the read models' database.
	oldKeysTable(t, s, `('alice', x'0102', 1, 0), ('bob', NULL, 1, 5)`)
	s.Close()

	for range 2 { // and a second open finds nothing left to move
		s, err = Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		w, erased, found, err := s.LoadKey(ctx, "alice")
		if err != nil || !found || erased || !bytes.Equal(w, []byte{1, 2}) {
			t.Fatalf("alice: %x %v %v %v", w, erased, found, err)
		}
		if _, erased, found, err := s.LoadKey(ctx, "bob"); err != nil || !found || !erased {
			t.Fatalf("bob: erased %v found %v %v", erased, found, err)
		}
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'readstore_keys'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("readmodels.db still has the keys table: %d %v", n, err)
		}
		s.Close()
	}
}

// A key is on disk before the event sealed with it is appended, and its
// write does not wait for the read models' writer, which a projection's
// flush holds.
func TestKeysAreDurableAndIndependentOfFlushes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sync int
	if err := s.vault.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("vault synchronous = %d (%v), want 2 (FULL)", sync, err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	go s.write(ctx, func(*sql.Tx) error { close(held); <-release; return nil })
	<-held
	defer close(release)
	done := make(chan error, 1)
	go func() { _, _, err := s.CreateKey(ctx, "carol", []byte{3}); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CreateKey waited for the read models' writer")
	}
}

// Keys created at once share commits, and each caller gets its own key.
func TestConcurrentKeysAllStored(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			id := fmt.Sprintf("subject-%d", i)
			got, erased, err := s.CreateKey(ctx, id, []byte(id))
			if err != nil || erased || string(got) != id {
				t.Errorf("%s: %q %v %v", id, got, erased, err)
			}
		})
	}
	wg.Wait()
	for i := range 100 {
		id := fmt.Sprintf("subject-%d", i)
		if w, _, found, err := s.LoadKey(ctx, id); err != nil || !found || string(w) != id {
			t.Fatalf("%s: %q %v %v", id, w, found, err)
		}
	}
	s.Close()
	if _, _, err := s.CreateKey(ctx, "late", []byte{1}); err == nil {
		t.Fatal("CreateKey on a closed store succeeded")
	}
}

// BenchmarkCreateKey creates keys from 16 goroutines, as first
// submissions do. One fsync per key: 633 submissions/s end to end;
// grouped: see the README.
func BenchmarkCreateKey(b *testing.B) {
	s, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("subject-%d", n.Add(1))
			if _, _, err := s.CreateKey(b.Context(), id, []byte("wrapped key bytes of some length")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// A program from before the vault (schema version 1) must not open a
// store whose keys moved: the version it finds is newer than its own.
func TestOlderProgramsRefuseTheMovedKeys(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v < 2 {
		t.Fatalf("user_version %d (%v): a version-1 program would open the store and recreate an empty keys table", v, err)
	}
}

// A crash after the keys were copied into the vault and before they were
// dropped from readmodels.db leaves them in both; the next start finds the
// copies there already, keeps them (an erasure in either place winning) and
// finishes the move.
func TestKeyMoveSurvivesACrashBetweenCopyAndDrop(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The vault has the copies (committed before the crash) ...
	if _, _, err := s.CreateKey(ctx, "alice", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateKey(ctx, "bob", []byte{3}); err != nil {
		t.Fatal(err)
	}
	// ... and the read models still have the table, where bob's key was
	// erased after the copy was read.
	oldKeysTable(t, s, `('alice', x'0102', 1, 0), ('bob', NULL, 1, 7)`)
	s.Close()

	s, err = Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, erased, found, err := s.LoadKey(ctx, "alice"); err != nil || !found || erased || !bytes.Equal(w, []byte{1, 2}) {
		t.Fatalf("alice: %x %v %v %v", w, erased, found, err)
	}
	if w, erased, found, err := s.LoadKey(ctx, "bob"); err != nil || !found || !erased || w != nil {
		t.Fatalf("bob: %x erased %v found %v %v, want the erasure kept", w, erased, found, err)
	}
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'readstore_keys'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("readmodels.db still has the keys table: %d %v", n, err)
	}
}

// oldKeysTable puts the keys table of schema version 1 into readmodels.db,
// with rows (an SQL VALUES list).
func oldKeysTable(t *testing.T, s *Store, rows string) {
	t.Helper()
	ctx := context.Background()
	if err := s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`CREATE TABLE readstore_keys (id TEXT PRIMARY KEY NOT NULL, wrapped BLOB, created_at INTEGER NOT NULL, erased_at INTEGER NOT NULL) STRICT`,
			`INSERT INTO readstore_keys VALUES ` + rows,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
