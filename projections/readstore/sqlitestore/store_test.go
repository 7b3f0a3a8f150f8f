package sqlitestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/storetest"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openDir(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	s := openDir(t, t.TempDir())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) readstore.Store { return openTemp(t) })
}

func TestFlushAtomic(t *testing.T) {
	storetest.FlushAtomic(t, func(t *testing.T) readstore.Store { return openTemp(t) })
}

func TestOpenRequiresDir(t *testing.T) {
	if _, err := Open(t.Context(), Options{}); err == nil {
		t.Fatal("Open without Dir succeeded")
	}
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	var mode string
	if err := s.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var mmap int64
	if err := s.r.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&mmap); err != nil || mmap != DefaultMmapSize {
		t.Fatalf("reader mmap_size = %d, %v; want %d", mmap, err, DefaultMmapSize)
	}
	var sync, busy int
	if err := s.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil || sync != 1 {
		t.Fatalf("writer synchronous = %d, %v; want 1 (NORMAL)", sync, err)
	}
	if err := s.r.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != int(DefaultBusyTimeout.Milliseconds()) {
		t.Fatalf("reader busy_timeout = %d, %v", busy, err)
	}
	// Readers are query-only: a bug that writes through them fails loudly.
	if _, err := s.r.ExecContext(ctx, `CREATE TABLE nope (x)`); err == nil {
		t.Fatal("reader pool accepted a write")
	}
}

// planDetails returns the EXPLAIN QUERY PLAN lines of a query.
func planDetails(t *testing.T, s *Store, query string, args []any) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQueryPlans pins the index use of the queue and list queries. A plan
// with "USE TEMP B-TREE" sorts every matching row before returning a page;
// that was measured 300-600x slower than an ordered index range.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "queue_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	// Enough rows, with realistic skew, that the planner has a choice.
	var writes []readstore.Write
	now := time.Now()
	for i := range 500 {
		writes = append(writes, readstore.Write{Collection: "queue_g1", Doc: readstore.Doc{
			ID: fmt.Sprintf("app-%04d", i), Body: json.RawMessage(`{}`),
			Queue: &readstore.QueueFields{
				Status:   []string{"new", "review", "done", "done", "done"}[i%5],
				Assignee: []string{"", "alice", "bob", "carol"}[i%4],
				Region:   fmt.Sprintf("r%02d", i%20),
				Deadline: now.Add(time.Duration(i) * time.Minute),
				Waiting:  i%7 == 0,
			}}})
	}
	if err := s.Flush(ctx, writes, readstore.Checkpoint{Projection: "plan"}); err != nil {
		t.Fatal(err)
	}

	status, alice, nobody := "review", "alice", ""
	yes, no := true, false
	after := &readstore.QueueCursor{Deadline: now, ID: "app-0001"}
	cases := []struct {
		name   string
		q      readstore.QueueQuery
		status *string
		index  string // the index the plan must use; "" for any
	}{
		{"no filter", readstore.QueueQuery{}, nil, "deadline"},
		{"no filter, cursor", readstore.QueueQuery{After: after}, nil, "deadline"},
		{"status", readstore.QueueQuery{}, &status, "status"},
		{"status, cursor", readstore.QueueQuery{After: after}, &status, "status"},
		{"status, overdue", readstore.QueueQuery{Overdue: &yes, Now: now}, &status, "status"},
		{"status, not overdue, cursor", readstore.QueueQuery{Overdue: &no, Now: now, After: after}, &status, "status"},
		{"assignee", readstore.QueueQuery{Assignee: &alice}, nil, "assignee_any"},
		{"assignee, overdue", readstore.QueueQuery{Assignee: &alice, Overdue: &yes, Now: now}, nil, "assignee_any"},
		{"assignee, region", readstore.QueueQuery{Assignee: &alice, Region: "r03"}, nil, ""},
		{"assignee, region, status", readstore.QueueQuery{Assignee: &alice, Region: "r03"}, &status, ""},
		{"assignee, status", readstore.QueueQuery{Assignee: &alice}, &status, "assignee"},
		{"assignee, status, cursor", readstore.QueueQuery{Assignee: &alice, After: after}, &status, "assignee"},
		{"unassigned, status", readstore.QueueQuery{Assignee: &nobody}, &status, "assignee"},
		{"unassigned, status, overdue", readstore.QueueQuery{Assignee: &nobody, Overdue: &yes, Now: now}, &status, "assignee"},
		{"region", readstore.QueueQuery{Region: "r03"}, nil, "region_any"},
		{"region, cursor", readstore.QueueQuery{Region: "r03", After: after}, nil, "region_any"},
		{"region, status", readstore.QueueQuery{Region: "r03"}, &status, "region"},
		{"region, status, cursor", readstore.QueueQuery{Region: "r03", After: after}, &status, "region"},
		{"overdue", readstore.QueueQuery{Overdue: &yes, Now: now}, nil, "deadline"},
		{"not overdue", readstore.QueueQuery{Overdue: &no, Now: now}, nil, "deadline"},
	}
	for _, tc := range cases {
		query, args := queueSQL("queue_g1", tc.q, tc.status, 51)
		plan := planDetails(t, s, query, args)
		joined := strings.Join(plan, " | ")
		t.Logf("%-30s %s", tc.name, joined)
		if strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s: plan sorts in a temp B-tree: %s", tc.name, joined)
		}
		if !strings.Contains(joined, "USING INDEX") && !strings.Contains(joined, "USING COVERING INDEX") {
			t.Errorf("%s: plan uses no index: %s", tc.name, joined)
		}
		if tc.index != "" && !strings.Contains(joined, "c_queue_g1__"+tc.index+" ") && !strings.HasSuffix(joined, "c_queue_g1__"+tc.index) {
			t.Errorf("%s: plan does not use the %s index: %s", tc.name, tc.index, joined)
		}
		// The query itself must run.
		rows, err := s.r.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_ = rows.Close()
	}

	for _, q := range []readstore.ListQuery{{Prefix: "app/"}, {Prefix: "app/", AfterID: "app/x"}, {}} {
		query, args := listSQL("docs_g1", readstore.KindDocs, q, 100)
		joined := strings.Join(planDetails(t, s, query, args), " | ")
		t.Logf("list %+v: %s", q, joined)
		if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, "INDEX") {
			t.Errorf("list %+v: plan %s", q, joined)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openDir(t, dir)
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(ctx, []readstore.Write{{Collection: "docs_g1", Doc: readstore.Doc{ID: "a", Position: 5, Body: json.RawMessage(`{"v":1}`)}}},
		readstore.Checkpoint{Projection: "p", Position: 5, Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := s.PutBlob(ctx, strings.NewReader("scan"), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDir(t, dir)
	defer func() { _ = s.Close() }()
	d, err := s.Get(ctx, "docs", "a")
	if err != nil || d.Position != 5 || string(d.Body) != `{"v":1}` {
		t.Fatalf("after reopen Get = %+v, %v", d, err)
	}
	cp, err := s.LoadCheckpoint(ctx, "p")
	if err != nil || cp.Position != 5 || cp.Generation != 1 {
		t.Fatalf("after reopen checkpoint = %+v, %v", cp, err)
	}
	rc, info, err := s.OpenBlob(ctx, blob.SHA256)
	if err != nil {
		t.Fatalf("after reopen OpenBlob: %v", err)
	}
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	if string(b) != "scan" || info != blob {
		t.Fatalf("after reopen blob %q %+v", b, info)
	}
	// The schema is created idempotently and the old collection still works.
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
}

func blobFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(s.blobs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(s.blobs, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBlobFilesDeduped(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("scan page "), 1000)
	var sum string
	for range 3 {
		info, err := s.PutBlob(ctx, bytes.NewReader(data), "image/png")
		if err != nil {
			t.Fatal(err)
		}
		sum = info.SHA256
	}
	files := blobFiles(t, s)
	want := filepath.Join(sum[:2], sum)
	if len(files) != 1 || files[0] != want {
		t.Fatalf("blob files %q, want just %q (no temp files left)", files, want)
	}
	if err := s.DeleteBlob(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if files := blobFiles(t, s); len(files) != 0 {
		t.Fatalf("after delete blob files %q", files)
	}
}

// A file published by a put whose metadata row never got written (a crash in
// between) is adopted by the next put of the same bytes.
func TestBlobOrphanFileAdopted(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	info, err := s.PutBlob(ctx, strings.NewReader("orphan"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM readstore_blobs`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OpenBlob(ctx, info.SHA256); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("orphan file visible: %v", err)
	}
	if _, err := s.PutBlob(ctx, strings.NewReader("orphan"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.OpenBlob(ctx, info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
}

// TestConcurrentReadersAndWriter runs readers against a flushing writer.
// Each flush moves every document to the same new position, so a reader
// that sees a mix of positions within one List saw a torn transaction.
func TestConcurrentReadersAndWriter(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "queue_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, map[string]string{"queue": "queue_g1"}); err != nil {
		t.Fatal(err)
	}
	batch := func(pos uint64) []readstore.Write {
		var ws []readstore.Write
		for i := range 20 {
			ws = append(ws, readstore.Write{Collection: "queue_g1", Doc: readstore.Doc{
				ID: fmt.Sprintf("d%02d", i), Position: pos, Body: json.RawMessage(fmt.Sprintf(`{"pos":%d}`, pos)),
				Queue: &readstore.QueueFields{Status: "new", Deadline: time.Unix(int64(i), 0)}}})
		}
		return ws
	}
	if err := s.Flush(ctx, batch(1), readstore.Checkpoint{Projection: "c", Position: 1}); err != nil {
		t.Fatal(err)
	}

	const flushes = 100
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				var docs []readstore.Doc
				var err error
				if r%2 == 0 {
					docs, err = s.List(ctx, readstore.ListQuery{Collection: "queue"})
				} else {
					var page readstore.QueuePage
					page, err = s.Queue(ctx, readstore.QueueQuery{Collection: "queue", Status: []string{"new", "done"}})
					docs = page.Docs
				}
				if err != nil {
					errs <- err
					return
				}
				if len(docs) != 20 {
					errs <- fmt.Errorf("reader %d saw %d docs", r, len(docs))
					return
				}
				for _, d := range docs {
					if d.Position != docs[0].Position {
						errs <- fmt.Errorf("reader %d saw a torn flush: positions %d and %d", r, docs[0].Position, d.Position)
						return
					}
				}
				if docs[0].Position < last {
					errs <- fmt.Errorf("reader %d went back from %d to %d", r, last, docs[0].Position)
					return
				}
				last = docs[0].Position
			}
		}()
	}
	for pos := uint64(2); pos <= flushes; pos++ {
		if err := s.Flush(ctx, batch(pos), readstore.Checkpoint{Projection: "c", Position: pos}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTempCleanup(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	_ = s.Close()
	stale := filepath.Join(dir, blobDir, blobTmpDir, "put-stale")
	fresh := filepath.Join(dir, blobDir, blobTmpDir, "put-fresh")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * tmpMaxAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir)
	_ = s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale upload not removed: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh upload removed: %v", err)
	}
}

// TestPutBlobLeavesNoTemp puts new bytes, the same bytes again (the second
// temp file is not renamed: the blob exists) and a failing upload, and
// wants the temp dir empty after each.
func TestPutBlobLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	defer func() { _ = s.Close() }()
	tmp := filepath.Join(dir, blobDir, blobTmpDir)
	empty := func(after string) {
		t.Helper()
		left, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Fatalf("after %s the temp dir holds %d files, first %s", after, len(left), left[0].Name())
		}
	}
	for _, what := range []string{"a new blob", "the same bytes again"} {
		if _, err := s.PutBlob(t.Context(), strings.NewReader("scan bytes"), "application/pdf"); err != nil {
			t.Fatal(err)
		}
		empty(what)
	}
	if _, err := s.PutBlob(t.Context(), iotest.ErrReader(errors.New("client went away")), "application/pdf"); err == nil {
		t.Fatal("a failing reader was stored")
	}
	empty("a failed upload")
}

// TestStaleHints uses two Stores on one directory, so that one of them holds
// hints the other makes stale: an alias switch with a drop of the old
// collection, and a collection recreated as another kind.
func TestStaleHints(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	a, b := openDir(t, dir), openDir(t, dir)
	defer func() { _ = a.Close(); _ = b.Close() }()
	put := func(coll, id, body string, q *readstore.QueueFields) readstore.Write {
		return readstore.Write{Collection: coll, Doc: readstore.Doc{ID: id, Body: json.RawMessage(body), Queue: q}}
	}
	for _, c := range []string{"docs_g1", "docs_g2"} {
		if err := a.EnsureCollection(ctx, c, readstore.KindDocs); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx, []readstore.Write{put("docs_g1", "x", `{"g":1}`, nil), put("docs_g2", "x", `{"g":2}`, nil)},
		readstore.Checkpoint{Projection: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	body := func(s *Store) string {
		t.Helper()
		d, err := s.Get(ctx, "docs", "x")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return string(d.Body)
	}
	if got := body(b); got != `{"g":1}` { // b now hints docs → docs_g1
		t.Fatalf("b reads %s", got)
	}
	if _, err := b.GetPhysical(ctx, "docs_g1", "x"); err != nil {
		t.Fatal(err)
	}

	if err := a.SetAliases(ctx, map[string]string{"docs": "docs_g2"}); err != nil {
		t.Fatal(err)
	}
	if err := a.DropCollection(ctx, "docs_g1"); err != nil {
		t.Fatal(err)
	}
	if got := body(b); got != `{"g":2}` {
		t.Fatalf("after switch and drop b reads %s, want generation 2", got)
	}
	if _, err := b.GetPhysical(ctx, "docs_g1", "x"); !errors.Is(err, readstore.ErrNoCollection) {
		t.Fatalf("GetPhysical of a collection dropped elsewhere: %v", err)
	}

	// Recreated as a queue: b's kind hint says docs.
	if err := a.EnsureCollection(ctx, "docs_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	q := &readstore.QueueFields{Status: "new", Deadline: time.Unix(100, 0)}
	if err := a.Flush(ctx, []readstore.Write{put("docs_g1", "y", `{"q":1}`, q)}, readstore.Checkpoint{Projection: "p"}); err != nil {
		t.Fatal(err)
	}
	d, err := b.GetPhysical(ctx, "docs_g1", "y")
	if err != nil || d.Queue == nil || d.Queue.Status != "new" {
		t.Fatalf("GetPhysical after recreation as queue = %+v, %v", d, err)
	}
	if err := a.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	d, err = b.Get(ctx, "docs", "y")
	if err != nil || d.Queue == nil || !d.Queue.Deadline.Equal(q.Deadline) {
		t.Fatalf("Get through a switched alias to a queue = %+v, %v", d, err)
	}
	// Removing the alias elsewhere is seen too.
	if err := a.SetAliases(ctx, map[string]string{"docs": ""}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "docs", "y"); !errors.Is(err, readstore.ErrNoCollection) {
		t.Fatalf("Get through a removed alias: %v", err)
	}
}
