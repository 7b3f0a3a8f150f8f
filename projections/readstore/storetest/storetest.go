// Package storetest is the contract test suite of readstore.Store. Every
// adapter's tests call Run, so that the embedded and the MongoDB adapters
// stay interchangeable: whatever one of them gets right or wrong shows up as
// a difference here, not in production.
//
// The data sets are deliberately tiny (tens of documents): the suite also
// runs on FerretDB, which scans a whole collection for every query.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
)

// Run runs the contract suite. open is called once per subtest and must
// return an empty store; it should register its own cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) readstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s readstore.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"NotFound", testNotFound},
		{"Position", testPosition},
		{"LastWriteWins", testLastWriteWins},
		{"FlushValidation", testFlushValidation},
		{"List", testList},
		{"QueueFilters", testQueueFilters},
		{"QueuePagination", testQueuePagination},
		{"QueueKinds", testQueueKinds},
		{"Checkpoints", testCheckpoints},
		{"Fence", testFence},
		{"FencedDeletion", testFencedDeletion},
		{"Collections", testCollections},
		{"Aliases", testAliases},
		{"Blobs", testBlobs},
		{"KeyVault", testKeyVault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// --- helpers ---------------------------------------------------------------

func ensure(t *testing.T, s readstore.Store, physical string, kind readstore.Kind) {
	t.Helper()
	if err := s.EnsureCollection(t.Context(), physical, kind); err != nil {
		t.Fatalf("EnsureCollection(%q, %d): %v", physical, kind, err)
	}
}

func setAliases(t *testing.T, s readstore.Store, aliases map[string]string) {
	t.Helper()
	if err := s.SetAliases(t.Context(), aliases); err != nil {
		t.Fatalf("SetAliases(%v): %v", aliases, err)
	}
}

func flush(t *testing.T, s readstore.Store, writes ...readstore.Write) {
	t.Helper()
	if err := s.Flush(t.Context(), writes, readstore.Checkpoint{Projection: "storetest", Position: 1}); err != nil {
		t.Fatalf("Flush(%d writes): %v", len(writes), err)
	}
}

func put(coll, id string, pos uint64, body string) readstore.Write {
	return readstore.Write{Collection: coll, Doc: readstore.Doc{ID: id, Position: pos, Body: json.RawMessage(body)}}
}

func putQ(coll, id string, pos uint64, body string, q readstore.QueueFields) readstore.Write {
	w := put(coll, id, pos, body)
	w.Doc.Queue = &q
	return w
}

func del(coll, id string) readstore.Write {
	return readstore.Write{Collection: coll, Doc: readstore.Doc{ID: id}, Delete: true}
}

func get(t *testing.T, s readstore.Store, logical, id string) readstore.Doc {
	t.Helper()
	d, err := s.Get(t.Context(), logical, id)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", logical, id, err)
	}
	return d
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one", what)
	}
}

// normJSON decodes JSON into a comparable value in which numbers are exact
// rationals: adapters may turn 1.0 into 1 (BSON doubles), which is the same
// JSON value.
func normJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	var norm func(v any) any
	norm = func(v any) any {
		switch v := v.(type) {
		case json.Number:
			r, ok := new(big.Rat).SetString(v.String())
			if !ok {
				t.Fatalf("bad JSON number %q", v)
			}
			return "num:" + r.RatString()
		case []any:
			for i := range v {
				v[i] = norm(v[i])
			}
		case map[string]any:
			for k := range v {
				v[k] = norm(v[k])
			}
		}
		return v
	}
	return norm(v)
}

func wantJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if !reflect.DeepEqual(normJSON(t, got), normJSON(t, []byte(want))) {
		t.Fatalf("%s: body %s, want %s", what, got, want)
	}
}

func wantQueueFields(t *testing.T, what string, got *readstore.QueueFields, want readstore.QueueFields) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: Queue is nil, want %+v", what, want)
	}
	if got.Status != want.Status || got.Assignee != want.Assignee || got.Region != want.Region ||
		got.Waiting != want.Waiting || !got.Deadline.Equal(want.Deadline) {
		t.Fatalf("%s: Queue %+v, want %+v", what, *got, want)
	}
}

func ids(docs []readstore.Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// --- documents -------------------------------------------------------------

// oddBody is valid JSON that not every MongoDB-compatible server stores as
// a document: nested arrays, keys with "$" and ".", a duplicate key.
const oddBody = `{"m":[[1,2],[[3]],[]],"$ref":"x","a.b":{"c.d":true},"dup":1,"dup":2}`

const richBody = `{"name":"Иван Петров","n":42,"f":1.5,"neg":-7,"exp":1e-7,"ok":true,"no":false,"nil":null,` +
	`"arr":[1,"two",{"three":3},[],[4.25]],"obj":{"a":{"b":[]},"empty":{}},"big":9007199254740993,"esc":"q\"\\\u00e9\n"}`

func testGetPutDelete(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"docs": "docs_g1", "queue": "queue_g1"})

	deadline := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	qf := readstore.QueueFields{Status: "review", Assignee: "alice", Region: "77", Deadline: deadline, Waiting: true}
	flush(t, s,
		put("docs_g1", "a", 7, richBody),
		put("docs_g1", "b", 8, `{"v":1}`),
		putQ("queue_g1", "q1", 9, `{"app":"q1"}`, qf),
		putQ("queue_g1", "q0", 10, `{"app":"q0"}`, readstore.QueueFields{Status: "new"}),
		put("docs_g1", "odd", 1, oddBody),
	)
	wantJSON(t, "Get(docs, odd)", get(t, s, "docs", "odd").Body, oddBody)

	d := get(t, s, "docs", "a")
	if d.ID != "a" || d.Position != 7 || d.Queue != nil {
		t.Fatalf("Get(docs, a) = %+v, want ID a, Position 7, no Queue", d)
	}
	wantJSON(t, "Get(docs, a)", d.Body, richBody)

	p, err := s.GetPhysical(ctx, "docs_g1", "a")
	if err != nil {
		t.Fatalf("GetPhysical: %v", err)
	}
	if p.ID != "a" || p.Position != 7 {
		t.Fatalf("GetPhysical(docs_g1, a) = %+v", p)
	}
	wantJSON(t, "GetPhysical(docs_g1, a)", p.Body, richBody)

	q := get(t, s, "queue", "q1")
	if q.Position != 9 {
		t.Fatalf("queue doc position %d, want 9", q.Position)
	}
	wantJSON(t, "Get(queue, q1)", q.Body, `{"app":"q1"}`)
	wantQueueFields(t, "Get(queue, q1)", q.Queue, qf)
	q0 := get(t, s, "queue", "q0")
	wantQueueFields(t, "Get(queue, q0) zero deadline", q0.Queue, readstore.QueueFields{Status: "new"})
	if !q0.Queue.Deadline.IsZero() {
		t.Fatalf("zero deadline came back as %v", q0.Queue.Deadline)
	}

	// Replace: the whole document changes, position included.
	qf2 := readstore.QueueFields{Status: "done", Assignee: "", Region: "50", Deadline: deadline.Add(-time.Hour)}
	flush(t, s,
		put("docs_g1", "a", 11, `{"replaced":true}`),
		putQ("queue_g1", "q1", 12, `{"app":"q1","v":2}`, qf2),
	)
	d = get(t, s, "docs", "a")
	if d.Position != 11 {
		t.Fatalf("after update position %d, want 11", d.Position)
	}
	wantJSON(t, "updated a", d.Body, `{"replaced":true}`)
	q = get(t, s, "queue", "q1")
	wantQueueFields(t, "updated q1", q.Queue, qf2)
	wantJSON(t, "updated q1", q.Body, `{"app":"q1","v":2}`)

	// Delete, including a delete of a missing document.
	flush(t, s, del("docs_g1", "a"), del("docs_g1", "never-existed"), del("queue_g1", "q1"))
	_, err = s.Get(ctx, "docs", "a")
	wantErrIs(t, "Get after delete", err, readstore.ErrNotFound)
	_, err = s.GetPhysical(ctx, "docs_g1", "a")
	wantErrIs(t, "GetPhysical after delete", err, readstore.ErrNotFound)
	_, err = s.Get(ctx, "queue", "q1")
	wantErrIs(t, "Get queue after delete", err, readstore.ErrNotFound)
	// Neighbours are untouched.
	wantJSON(t, "untouched b", get(t, s, "docs", "b").Body, `{"v":1}`)
	if get(t, s, "queue", "q0").Position != 10 {
		t.Fatal("untouched q0 changed")
	}
}

func testNotFound(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})

	_, err := s.Get(ctx, "docs", "missing")
	wantErrIs(t, "Get missing doc", err, readstore.ErrNotFound)
	if errors.Is(err, readstore.ErrNoCollection) {
		t.Fatalf("missing doc reported as missing collection: %v", err)
	}
	_, err = s.GetPhysical(ctx, "docs_g1", "missing")
	wantErrIs(t, "GetPhysical missing doc", err, readstore.ErrNotFound)
	_, err = s.Get(ctx, "docs", "")
	wantErrIs(t, "Get empty ID", err, readstore.ErrNotFound)

	_, err = s.Get(ctx, "nothing", "x")
	wantErrIs(t, "Get unaliased", err, readstore.ErrNoCollection)
	if errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("missing collection reported as missing doc: %v", err)
	}
	_, err = s.GetPhysical(ctx, "nothing_g1", "x")
	wantErrIs(t, "GetPhysical missing collection", err, readstore.ErrNoCollection)
	_, err = s.List(ctx, readstore.ListQuery{Collection: "nothing"})
	wantErrIs(t, "List unaliased", err, readstore.ErrNoCollection)
	_, err = s.Queue(ctx, readstore.QueueQuery{Collection: "nothing"})
	wantErrIs(t, "Queue unaliased", err, readstore.ErrNoCollection)
	_, err = s.Alias(ctx, "nothing")
	wantErrIs(t, "Alias missing", err, readstore.ErrNotFound)
	_, err = s.LoadCheckpoint(ctx, "nothing")
	wantErrIs(t, "LoadCheckpoint missing", err, readstore.ErrNotFound)
	_, _, err = s.OpenBlob(ctx, strings.Repeat("ab", 32))
	wantErrIs(t, "OpenBlob missing", err, readstore.ErrNotFound)

	// An empty collection lists as empty, not as an error.
	docs, err := s.List(ctx, readstore.ListQuery{Collection: "docs"})
	if err != nil || len(docs) != 0 {
		t.Fatalf("List(empty) = %v, %v; want no docs", ids(docs), err)
	}
}

func testPosition(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})
	positions := []uint64{0, 1, math.MaxInt64, 1<<63 + 12345, math.MaxUint64}
	var writes []readstore.Write
	for i, p := range positions {
		writes = append(writes, put("docs_g1", fmt.Sprintf("p%d", i), p, `{}`))
	}
	if err := s.Flush(ctx, writes, readstore.Checkpoint{Projection: "pos", Position: math.MaxUint64 - 1, Generation: 3}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for i, p := range positions {
		if got := get(t, s, "docs", fmt.Sprintf("p%d", i)).Position; got != p {
			t.Errorf("position of p%d = %d, want %d", i, got, p)
		}
	}
	cp, err := s.LoadCheckpoint(ctx, "pos")
	if err != nil {
		t.Fatalf("LoadCheckpoint: %v", err)
	}
	if cp.Position != math.MaxUint64-1 || cp.Generation != 3 {
		t.Fatalf("checkpoint %+v, want position %d generation 3", cp, uint64(math.MaxUint64-1))
	}
}

func testLastWriteWins(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})
	flush(t, s, put("docs_g1", "y", 1, `{"v":0}`))
	flush(t, s,
		put("docs_g1", "x", 2, `{"v":1}`),
		put("docs_g1", "x", 3, `{"v":2}`),
		del("docs_g1", "y"),
		put("docs_g1", "y", 4, `{"v":3}`),
		put("docs_g1", "z", 5, `{"v":4}`),
		del("docs_g1", "z"),
	)
	x := get(t, s, "docs", "x")
	if x.Position != 3 {
		t.Fatalf("x position %d, want 3", x.Position)
	}
	wantJSON(t, "x", x.Body, `{"v":2}`)
	wantJSON(t, "y", get(t, s, "docs", "y").Body, `{"v":3}`)
	_, err := s.Get(ctx, "docs", "z")
	wantErrIs(t, "z put then deleted", err, readstore.ErrNotFound)
}

func testFlushValidation(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	ensure(t, s, "queue_g1", readstore.KindQueue)
	cp := readstore.Checkpoint{Projection: "v", Position: 1}
	qf := readstore.QueueFields{Status: "new", Deadline: time.Now()}

	err := s.Flush(ctx, []readstore.Write{put("missing_g1", "a", 1, `{}`)}, cp)
	wantErrIs(t, "write to a collection never ensured", err, readstore.ErrNoCollection)

	bad := map[string]readstore.Write{
		"invalid collection name": put("Docs; DROP TABLE x", "a", 1, `{}`),
		"empty ID":                put("docs_g1", "", 1, `{}`),
		"invalid UTF-8 ID":        put("docs_g1", "a\xff", 1, `{}`),
		"array body":              put("docs_g1", "a", 1, `[1,2]`),
		"string body":             put("docs_g1", "a", 1, `"x"`),
		"broken JSON":             put("docs_g1", "a", 1, `{"a":`),
		"empty body":              put("docs_g1", "a", 1, ``),
		"queue doc without Queue": put("queue_g1", "a", 1, `{}`),
		"plain doc with Queue":    putQ("docs_g1", "a", 1, `{}`, qf),
	}
	for what, w := range bad {
		wantErr(t, what, s.Flush(ctx, []readstore.Write{w}, cp))
	}
	wantErr(t, "empty checkpoint projection", s.Flush(ctx, nil, readstore.Checkpoint{Position: 1}))

	// Deletes need neither body nor Queue.
	if err := s.Flush(ctx, []readstore.Write{del("queue_g1", "nothing"), del("docs_g1", "nothing")}, cp); err != nil {
		t.Fatalf("deletes of missing docs: %v", err)
	}
}

// FlushAtomic checks the promise of adapters whose Flush is one transaction:
// a batch with an invalid write (anywhere in it) applies neither its writes
// nor its checkpoint. It is separate from Run because the MongoDB adapter
// does not make that promise.
func FlushAtomic(t *testing.T, open func(t *testing.T) readstore.Store) {
	t.Helper()
	s := open(t)
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"docs": "docs_g1", "queue": "queue_g1"})
	qf := readstore.QueueFields{Status: "new", Deadline: time.Now()}
	if err := s.Flush(ctx, []readstore.Write{put("docs_g1", "keep", 1, `{"v":1}`)},
		readstore.Checkpoint{Projection: "atomic", Position: 1}); err != nil {
		t.Fatalf("initial Flush: %v", err)
	}

	valid := []readstore.Write{
		put("docs_g1", "new1", 2, `{"v":"new"}`),
		putQ("queue_g1", "q1", 2, `{}`, qf),
		put("docs_g1", "keep", 2, `{"v":2}`),
		del("docs_g1", "keep"),
		put("docs_g1", "keep", 3, `{"v":3}`),
	}
	invalid := map[string]readstore.Write{
		"array body":           put("docs_g1", "bad", 3, `[]`),
		"missing collection":   put("missing_g1", "bad", 3, `{}`),
		"queue without fields": put("queue_g1", "bad", 3, `{}`),
		"empty ID":             put("docs_g1", "", 3, `{}`),
	}
	for what, bad := range invalid {
		for _, at := range []int{0, 2, len(valid)} {
			batch := slices.Insert(slices.Clone(valid), at, bad)
			err := s.Flush(ctx, batch, readstore.Checkpoint{Projection: "atomic", Position: 99})
			if err == nil {
				t.Fatalf("%s at %d: Flush succeeded", what, at)
			}
			for _, id := range []string{"new1", "q1"} {
				coll := "docs"
				if id == "q1" {
					coll = "queue"
				}
				if _, err := s.Get(ctx, coll, id); !errors.Is(err, readstore.ErrNotFound) {
					t.Fatalf("%s at %d: %s/%s was applied (err %v)", what, at, coll, id, err)
				}
			}
			keep := get(t, s, "docs", "keep")
			if keep.Position != 1 {
				t.Fatalf("%s at %d: keep was changed to position %d", what, at, keep.Position)
			}
			wantJSON(t, what+": keep", keep.Body, `{"v":1}`)
			cp, err := s.LoadCheckpoint(ctx, "atomic")
			if err != nil || cp.Position != 1 {
				t.Fatalf("%s at %d: checkpoint %+v, %v; want position 1", what, at, cp, err)
			}
		}
	}
	// The same batch without the invalid write goes through.
	if err := s.Flush(ctx, valid, readstore.Checkpoint{Projection: "atomic", Position: 3}); err != nil {
		t.Fatalf("valid Flush: %v", err)
	}
	if get(t, s, "docs", "keep").Position != 3 || get(t, s, "docs", "new1").Position != 2 {
		t.Fatal("valid batch not applied")
	}
	// A flush refused for its fence writes nothing either, not even the
	// documents that no newer term wrote.
	if err := s.Flush(ctx, nil, readstore.Checkpoint{Projection: "atomic", Position: 4, Fence: 8}); err != nil {
		t.Fatalf("fenced Flush: %v", err)
	}
	err := s.Flush(ctx, []readstore.Write{put("docs_g1", "stale", 5, `{}`), del("docs_g1", "new1")},
		readstore.Checkpoint{Projection: "atomic", Position: 5, Fence: 3})
	wantErrIs(t, "stale Flush", err, readstore.ErrFenced)
	if _, err := s.Get(ctx, "docs", "stale"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("a fenced-off flush wrote a document (Get: %v)", err)
	}
	if get(t, s, "docs", "new1").Position != 2 {
		t.Fatal("a fenced-off flush deleted a document")
	}
}

// --- List ------------------------------------------------------------------

func testList(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})
	all := []string{
		"b", "app1/0010", "a", "app1/z", "app1/é", "app1", "app1/", "app10/0001",
		"app1/0002", "app1~", "app2/0001", "app1/0001", "app1/0003", "app1/\U0010FFFF", "app1/\U0010FFFFx",
	}
	var writes []readstore.Write
	for i, id := range all {
		body, _ := json.Marshal(map[string]string{"id": id})
		writes = append(writes, put("docs_g1", id, uint64(i+1), string(body)))
	}
	flush(t, s, writes...)
	sorted := slices.Sorted(slices.Values(all)) // Go compares strings bytewise
	with := func(prefix string) []string {
		var out []string
		for _, id := range sorted {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		return out
	}
	list := func(q readstore.ListQuery) []readstore.Doc {
		t.Helper()
		q.Collection = "docs"
		docs, err := s.List(ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		return docs
	}
	check := func(q readstore.ListQuery, want []string) {
		t.Helper()
		if got := ids(list(q)); !slices.Equal(got, want) {
			t.Fatalf("List(prefix %q, after %q, limit %d) = %q, want %q", q.Prefix, q.AfterID, q.Limit, got, want)
		}
	}

	check(readstore.ListQuery{}, sorted)
	check(readstore.ListQuery{Prefix: "app1/"}, with("app1/"))
	check(readstore.ListQuery{Prefix: "app1"}, with("app1"))
	check(readstore.ListQuery{Prefix: "app1/é"}, []string{"app1/é"})
	check(readstore.ListQuery{Prefix: "app1/\U0010FFFF"}, []string{"app1/\U0010FFFF", "app1/\U0010FFFFx"})
	check(readstore.ListQuery{Prefix: "nope"}, nil)
	check(readstore.ListQuery{Prefix: "app1/", AfterID: "a"}, with("app1/"))
	check(readstore.ListQuery{Prefix: "app1/", AfterID: "app1/0002"}, with("app1/")[3:])
	check(readstore.ListQuery{Prefix: "app1/", AfterID: "app1/\U0010FFFFx"}, nil)
	check(readstore.ListQuery{Prefix: "app1/", AfterID: "zzz"}, nil)
	check(readstore.ListQuery{Prefix: "app1/", Limit: 2}, with("app1/")[:2])

	// Bodies and positions come along.
	docs := list(readstore.ListQuery{Prefix: "app2/"})
	if len(docs) != 1 || docs[0].Position != uint64(slices.Index(all, "app2/0001")+1) {
		t.Fatalf("List(app2/) = %+v", docs)
	}
	wantJSON(t, "List body", docs[0].Body, `{"id":"app2/0001"}`)

	// Paging with the cursor visits every document once, in order.
	for _, prefix := range []string{"", "app1/", "app1"} {
		for _, limit := range []int{1, 3, 4} {
			var got []string
			after := ""
			for page := 0; ; page++ {
				if page > len(all)+1 {
					t.Fatalf("prefix %q limit %d: paging does not end", prefix, limit)
				}
				docs := list(readstore.ListQuery{Prefix: prefix, AfterID: after, Limit: limit})
				if len(docs) > limit {
					t.Fatalf("page of %d docs, limit %d", len(docs), limit)
				}
				if len(docs) == 0 {
					break
				}
				got = append(got, ids(docs)...)
				after = docs[len(docs)-1].ID
			}
			if want := with(prefix); !slices.Equal(got, want) {
				t.Fatalf("paged prefix %q limit %d: %q, want %q", prefix, limit, got, want)
			}
		}
	}
}

// --- Queue -----------------------------------------------------------------

type queueDoc struct {
	id  string
	pos uint64
	q   readstore.QueueFields
}

// queueFixture builds 30 queue documents around now with many equal
// deadlines (so the ID tie-break matters), waiting documents, overdue ones,
// one exactly at now, and unassigned ones.
func queueFixture(t *testing.T, s readstore.Store, physical string, now time.Time) []queueDoc {
	statuses := []string{"new", "review", "done"}
	assignees := []string{"", "alice", "bob", "alice", ""}
	regions := []string{"77", "50"}
	var docs []queueDoc
	var writes []readstore.Write
	for i := range 30 {
		// IDs are not in deadline order, and deadlines repeat.
		id := fmt.Sprintf("app-%02d", (i*7)%30)
		q := readstore.QueueFields{
			Status:   statuses[i%3],
			Assignee: assignees[i%5],
			Region:   regions[(i/3)%2],
			Deadline: now.Add(time.Duration(i%7-3) * time.Hour),
			Waiting:  i%4 == 0,
		}
		docs = append(docs, queueDoc{id, uint64(i + 1), q})
		writes = append(writes, putQ(physical, id, uint64(i+1), fmt.Sprintf(`{"id":%q,"i":%d}`, id, i), q))
	}
	flush(t, s, writes...)
	return docs
}

func expectQueue(docs []queueDoc, q readstore.QueueQuery) []string {
	var keep []queueDoc
	for _, d := range docs {
		if len(q.Status) > 0 && !slices.Contains(q.Status, d.q.Status) {
			continue
		}
		if q.Assignee != nil && d.q.Assignee != *q.Assignee {
			continue
		}
		if q.Region != "" && d.q.Region != q.Region {
			continue
		}
		if q.Overdue != nil {
			overdue := !d.q.Waiting && d.q.Deadline.Before(q.Now)
			if overdue != *q.Overdue {
				continue
			}
		}
		if q.Through != nil {
			if c := d.q.Deadline.Compare(q.Through.Deadline); c > 0 || (c == 0 && d.id > q.Through.ID) {
				continue
			}
		}
		if q.ChangedAfter > 0 && d.pos <= q.ChangedAfter {
			continue
		}
		keep = append(keep, d)
	}
	slices.SortFunc(keep, func(a, b queueDoc) int {
		if c := a.q.Deadline.Compare(b.q.Deadline); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, len(keep))
	for i, d := range keep {
		out[i] = d.id
	}
	return out
}

func queueCases(now time.Time) map[string]readstore.QueueQuery {
	alice, bob, nobody := "alice", "bob", ""
	yes, no := true, false
	return map[string]readstore.QueueQuery{
		"all":                         {},
		"one status":                  {Status: []string{"review"}},
		"two statuses":                {Status: []string{"new", "done"}},
		"all statuses, repeated":      {Status: []string{"done", "new", "review", "new"}},
		"unknown status":              {Status: []string{"archived"}},
		"assignee":                    {Assignee: &alice},
		"unassigned":                  {Assignee: &nobody},
		"assignee and statuses":       {Assignee: &bob, Status: []string{"new", "review"}},
		"unassigned and status":       {Assignee: &nobody, Status: []string{"new"}},
		"region":                      {Region: "50"},
		"region and status":           {Region: "77", Status: []string{"review"}},
		"overdue":                     {Overdue: &yes, Now: now},
		"not overdue":                 {Overdue: &no, Now: now},
		"overdue, statuses, region":   {Overdue: &yes, Now: now, Status: []string{"new", "review"}, Region: "77"},
		"not overdue, assignee":       {Overdue: &no, Now: now, Assignee: &alice},
		"overdue later":               {Overdue: &yes, Now: now.Add(2*time.Hour + time.Nanosecond)},
		"overdue, unassigned, status": {Overdue: &yes, Now: now, Assignee: &nobody, Status: []string{"done"}},
		// Through ends at a place among equal deadlines (due at now are
		// app-10, app-18, app-21 and app-29), inclusive of a document
		// there, or between two; ChangedAfter counts the fixture's
		// positions, 1 to 30.
		"through a document":               {Through: &readstore.QueueCursor{Deadline: now, ID: "app-18"}},
		"through a place":                  {Through: &readstore.QueueCursor{Deadline: now, ID: "app-14"}},
		"changed after":                    {ChangedAfter: 20},
		"through, changed after":           {Through: &readstore.QueueCursor{Deadline: now.Add(time.Hour), ID: "app-10"}, ChangedAfter: 9},
		"through, changed after, statuses": {Through: &readstore.QueueCursor{Deadline: now.Add(time.Hour), ID: "app-99"}, ChangedAfter: 5, Status: []string{"new", "done"}},
		"through, changed after, assignee": {Through: &readstore.QueueCursor{Deadline: now, ID: "app-00"}, ChangedAfter: 3, Assignee: &alice},
		"changed after the last, all":      {ChangedAfter: 30},
	}
}

func testQueueFilters(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"queue": "queue_g1"})
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	fixture := queueFixture(t, s, "queue_g1", now)
	byID := map[string]readstore.QueueFields{}
	for _, d := range fixture {
		byID[d.id] = d.q
	}

	nonEmpty := 0
	for name, q := range queueCases(now) {
		q.Collection = "queue"
		q.Limit = 100
		page, err := s.Queue(ctx, q)
		if err != nil {
			t.Fatalf("%s: Queue: %v", name, err)
		}
		want := expectQueue(fixture, q)
		if got := ids(page.Docs); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q, want %q", name, got, want)
		}
		if page.Next != nil {
			t.Fatalf("%s: single page has Next %+v", name, *page.Next)
		}
		for _, d := range page.Docs {
			wantQueueFields(t, name+": "+d.ID, d.Queue, byID[d.ID])
		}
		if len(want) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 15 {
		t.Fatalf("fixture too weak: only %d cases match anything", nonEmpty)
	}

	// The waiting document with a past deadline is neither overdue...
	yes, no := true, false
	page, err := s.Queue(ctx, readstore.QueueQuery{Collection: "queue", Overdue: &yes, Now: now, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Docs {
		if d.Queue.Waiting || !d.Queue.Deadline.Before(now) {
			t.Fatalf("overdue page holds %s %+v", d.ID, *d.Queue)
		}
	}
	// ...and is among the not overdue ones.
	page, err = s.Queue(ctx, readstore.QueueQuery{Collection: "queue", Overdue: &no, Now: now, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	waitingPast := 0
	for _, d := range page.Docs {
		if d.Queue.Waiting && d.Queue.Deadline.Before(now) {
			waitingPast++
		}
	}
	if waitingPast == 0 {
		t.Fatal("no waiting document with a past deadline among the not-overdue ones")
	}

	// Limit 0 means the default page size, which holds all 30.
	page, err = s.Queue(ctx, readstore.QueueQuery{Collection: "queue"})
	if err != nil || len(page.Docs) != 30 || page.Next != nil {
		t.Fatalf("Queue with Limit 0: %d docs, next %v, err %v", len(page.Docs), page.Next, err)
	}
}

func testQueuePagination(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"queue": "queue_g1"})
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	fixture := queueFixture(t, s, "queue_g1", now)

	for name, q := range queueCases(now) {
		want := expectQueue(fixture, q)
		for _, limit := range []int{1, 3, 5} {
			q := q // each limit pages from the start
			q.Collection = "queue"
			q.Limit = limit
			var got []string
			pages := 0
			for {
				pages++
				if pages > len(fixture)+2 {
					t.Fatalf("%s limit %d: paging does not end", name, limit)
				}
				page, err := s.Queue(ctx, q)
				if err != nil {
					t.Fatalf("%s limit %d page %d: %v", name, limit, pages, err)
				}
				if len(page.Docs) > limit {
					t.Fatalf("%s: page of %d, limit %d", name, len(page.Docs), limit)
				}
				got = append(got, ids(page.Docs)...)
				if page.Next == nil {
					break
				}
				if len(page.Docs) != limit {
					t.Fatalf("%s limit %d: short page %d with a Next cursor", name, limit, pages)
				}
				last := page.Docs[len(page.Docs)-1]
				if page.Next.ID != last.ID || !page.Next.Deadline.Equal(last.Queue.Deadline) {
					t.Fatalf("%s: Next %+v is not the last doc %s %v", name, *page.Next, last.ID, last.Queue.Deadline)
				}
				q.After = page.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s limit %d: paged %q, want %q", name, limit, got, want)
			}
			// No empty trailing page: the last page is known to be last.
			if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
				t.Fatalf("%s limit %d: %d pages for %d docs, want %d", name, limit, pages, len(want), wantPages)
			}
		}
	}

	// A cursor between stored keys (not taken from a page) works too.
	q := readstore.QueueQuery{Collection: "queue", Limit: 100,
		After: &readstore.QueueCursor{Deadline: now.Add(-time.Hour), ID: "app-15"}}
	page, err := s.Queue(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Docs {
		if d.Queue.Deadline.Before(q.After.Deadline) || (d.Queue.Deadline.Equal(q.After.Deadline) && d.ID <= "app-15") {
			t.Fatalf("doc %s %v is not after the cursor", d.ID, d.Queue.Deadline)
		}
	}
	if len(page.Docs) == 0 || len(page.Docs) == len(fixture) {
		t.Fatalf("cursor query returned %d docs", len(page.Docs))
	}
}

func testQueueKinds(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"docs": "docs_g1", "queue": "queue_g1"})
	flush(t, s, put("docs_g1", "a", 1, `{}`),
		putQ("queue_g1", "q", 1, `{}`, readstore.QueueFields{Status: "new", Deadline: time.Now()}))
	_, err := s.Queue(ctx, readstore.QueueQuery{Collection: "docs"})
	wantErr(t, "Queue on a docs collection", err)
	// A queue collection can be listed, and its documents carry Queue.
	docs, err := s.List(ctx, readstore.ListQuery{Collection: "queue"})
	if err != nil || len(docs) != 1 || docs[0].Queue == nil || docs[0].Queue.Status != "new" {
		t.Fatalf("List(queue) = %+v, %v", docs, err)
	}
}

// --- checkpoints, collections, aliases --------------------------------------

func testCheckpoints(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	cps, err := s.Checkpoints(ctx)
	if err != nil || len(cps) != 0 {
		t.Fatalf("Checkpoints on empty store = %+v, %v", cps, err)
	}
	_, err = s.LoadCheckpoint(ctx, "cabinet")
	wantErrIs(t, "LoadCheckpoint before any flush", err, readstore.ErrNotFound)

	at := time.Date(2030, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	mustFlush := func(cp readstore.Checkpoint) {
		t.Helper()
		if err := s.Flush(ctx, nil, cp); err != nil {
			t.Fatalf("Flush(%+v): %v", cp, err)
		}
	}
	mustFlush(readstore.Checkpoint{Projection: "cabinet", Position: 10, Generation: 2, UpdatedAt: at})
	cp, err := s.LoadCheckpoint(ctx, "cabinet")
	if err != nil {
		t.Fatal(err)
	}
	if cp.Projection != "cabinet" || cp.Position != 10 || cp.Generation != 2 || cp.UpdatedAt.Sub(at).Abs() > time.Millisecond {
		t.Fatalf("checkpoint %+v, want cabinet/10/2/%v", cp, at)
	}

	before := time.Now()
	mustFlush(readstore.Checkpoint{Projection: "audit", Position: 5, Generation: 1})
	mustFlush(readstore.Checkpoint{Projection: "cabinet", Position: 20, Generation: 3, UpdatedAt: at.Add(time.Second)})
	cps, err = s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 2 || cps[0].Projection != "audit" || cps[1].Projection != "cabinet" {
		t.Fatalf("Checkpoints = %+v, want audit then cabinet", cps)
	}
	if cps[0].Position != 5 || cps[0].Generation != 1 || cps[0].UpdatedAt.Before(before.Add(-time.Second)) ||
		cps[0].UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("audit checkpoint %+v: want position 5, generation 1, UpdatedAt set to the flush time", cps[0])
	}
	if cps[1].Position != 20 || cps[1].Generation != 3 || cps[1].UpdatedAt.Sub(at.Add(time.Second)).Abs() > time.Millisecond {
		t.Fatalf("cabinet checkpoint %+v, want 20/3", cps[1])
	}
}

// testFence plays a leaseholder stalled in the middle of a write: its
// successor (a higher token) flushed meanwhile, and the stale flush must
// change neither the checkpoint nor what the successor wrote.
func testFence(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})
	cp := func(pos, fence uint64) readstore.Checkpoint {
		return readstore.Checkpoint{Projection: "fenced", Position: pos, Generation: 1, Fence: fence}
	}
	wantCP := func(what string, pos, fence uint64) {
		t.Helper()
		got, err := s.LoadCheckpoint(ctx, "fenced")
		if err != nil {
			t.Fatalf("%s: LoadCheckpoint: %v", what, err)
		}
		if got.Position != pos || got.Fence != fence {
			t.Fatalf("%s: checkpoint at %d with fence %d, want %d with fence %d", what, got.Position, got.Fence, pos, fence)
		}
	}
	mustFlush := func(what string, c readstore.Checkpoint, writes ...readstore.Write) {
		t.Helper()
		if err := s.Flush(ctx, writes, c); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	mustFlush("first term", cp(10, 5), put("docs_g1", "a", 10, `{"by":"old"}`), put("docs_g1", "gone", 10, `{}`))
	wantCP("first term", 10, 5)
	mustFlush("successor", cp(20, 7), put("docs_g1", "a", 20, `{"by":"new"}`))
	wantCP("successor", 20, 7)

	err := s.Flush(ctx, []readstore.Write{put("docs_g1", "a", 15, `{"by":"stale"}`)}, cp(15, 5))
	wantErrIs(t, "stale flush", err, readstore.ErrFenced)
	wantCP("after the stale flush", 20, 7)
	if d := get(t, s, "docs", "a"); d.Position != 20 {
		t.Fatalf("stale flush overwrote the successor's document: position %d, body %s", d.Position, d.Body)
	}
	wantJSON(t, "the successor's document", get(t, s, "docs", "a").Body, `{"by":"new"}`)

	// A stale deletion of a document the successor wrote is refused too.
	err = s.Flush(ctx, []readstore.Write{del("docs_g1", "a")}, cp(16, 6))
	wantErrIs(t, "stale deletion", err, readstore.ErrFenced)
	if d := get(t, s, "docs", "a"); d.Position != 20 {
		t.Fatalf("stale deletion changed the successor's document: position %d", d.Position)
	}
	wantCP("after the stale deletion", 20, 7)

	// The same term flushes on; a writer outside any lease is not checked
	// and leaves the token; a later term takes over.
	mustFlush("same term", cp(25, 7), put("docs_g1", "a", 25, `{"by":"new","n":2}`))
	wantCP("same term", 25, 7)
	mustFlush("unfenced writer", cp(26, 0))
	wantCP("unfenced writer", 26, 7)
	mustFlush("third term", cp(30, 9), del("docs_g1", "a"))
	wantCP("third term", 30, 9)
	if _, err := s.Get(ctx, "docs", "a"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("third term's deletion: Get = %v, want ErrNotFound", err)
	}
	err = s.Flush(ctx, nil, cp(31, 7))
	wantErrIs(t, "the second term, after the third", err, readstore.ErrFenced)
	wantCP("after the refused checkpoint", 30, 9)

	// Tokens are per projection: another projection's term is its own.
	if err := s.Flush(ctx, nil, readstore.Checkpoint{Projection: "other", Position: 1, Fence: 1}); err != nil {
		t.Fatalf("another projection, lower token: %v", err)
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fences := map[string]uint64{}
	for _, c := range cps {
		fences[c.Projection] = c.Fence
	}
	if fences["fenced"] != 9 || fences["other"] != 1 {
		t.Fatalf("Checkpoints' fences = %v, want fenced 9 and other 1", fences)
	}
}

// testFencedDeletion: what a leaseholder deletes is gone for every reader
// (Get, List and Queue), whatever the adapter keeps behind to fence off a
// stale term, and the same term can write the document again.
func testFencedDeletion(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	ensure(t, s, "queue_g1", readstore.KindQueue)
	setAliases(t, s, map[string]string{"docs": "docs_g1", "queue": "queue_g1"})
	cp := func(pos uint64) readstore.Checkpoint {
		return readstore.Checkpoint{Projection: "fenced", Position: pos, Generation: 1, Fence: 7}
	}
	due := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	qf := func(d time.Duration) readstore.QueueFields {
		return readstore.QueueFields{Status: "submitted", Region: "77", Deadline: due.Add(d)}
	}
	if err := s.Flush(ctx, []readstore.Write{
		put("docs_g1", "x/a", 10, `{"n":"a"}`), put("docs_g1", "x/b", 10, `{"n":"b"}`),
		putQ("queue_g1", "q1", 10, `{}`, qf(0)), putQ("queue_g1", "q2", 10, `{}`, qf(time.Hour)),
	}, cp(10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx, []readstore.Write{del("docs_g1", "x/a"), del("queue_g1", "q1"), del("docs_g1", "x/never")}, cp(11)); err != nil {
		t.Fatalf("fenced deletion: %v", err)
	}
	listed := func() []string {
		t.Helper()
		docs, err := s.List(ctx, readstore.ListQuery{Collection: "docs", Prefix: "x/"})
		if err != nil {
			t.Fatal(err)
		}
		return ids(docs)
	}
	for _, id := range []string{"x/a", "x/never"} {
		if d, err := s.Get(ctx, "docs", id); !errors.Is(err, readstore.ErrNotFound) {
			t.Fatalf("Get(%s) after a fenced deletion: %+v, %v; want ErrNotFound", id, d, err)
		}
	}
	if got := listed(); !slices.Equal(got, []string{"x/b"}) {
		t.Fatalf("List after a fenced deletion: %q, want [x/b]", got)
	}
	for _, q := range []readstore.QueueQuery{{}, {Status: []string{"submitted"}}, {Region: "77"}} {
		q.Collection = "queue"
		page, err := s.Queue(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Docs); !slices.Equal(got, []string{"q2"}) {
			t.Fatalf("Queue(%+v) after a fenced deletion: %q, want [q2]", q, got)
		}
	}
	if _, err := s.Get(ctx, "queue", "q1"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("Get(q1) after a fenced deletion: %v, want ErrNotFound", err)
	}

	if err := s.Flush(ctx, []readstore.Write{put("docs_g1", "x/a", 12, `{"n":"a2"}`), putQ("queue_g1", "q1", 12, `{}`, qf(2*time.Hour))}, cp(12)); err != nil {
		t.Fatalf("the same term writes the deleted documents again: %v", err)
	}
	wantJSON(t, "x/a written again", get(t, s, "docs", "x/a").Body, `{"n":"a2"}`)
	if got := listed(); !slices.Equal(got, []string{"x/a", "x/b"}) {
		t.Fatalf("List after writing x/a again: %q", got)
	}
	page, err := s.Queue(ctx, readstore.QueueQuery{Collection: "queue"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page.Docs); !slices.Equal(got, []string{"q2", "q1"}) {
		t.Fatalf("Queue after writing q1 again: %q, want [q2 q1]", got)
	}

	// A stale term is refused, and what the leaseholder deleted stays so.
	err = s.Flush(ctx, []readstore.Write{put("docs_g1", "x/never", 9, `{"by":"stale"}`)},
		readstore.Checkpoint{Projection: "fenced", Position: 9, Generation: 1, Fence: 5})
	wantErrIs(t, "stale write of a deleted document", err, readstore.ErrFenced)
	if _, err := s.Get(ctx, "docs", "x/never"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("the stale write brought x/never back: %v", err)
	}
}

func testCollections(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "docs_g1", readstore.KindDocs)
	setAliases(t, s, map[string]string{"docs": "docs_g1"})
	flush(t, s, put("docs_g1", "a", 1, `{}`))
	// Idempotent, and does not clear data.
	ensure(t, s, "docs_g1", readstore.KindDocs)
	get(t, s, "docs", "a")

	wantErr(t, "re-ensure as another kind", s.EnsureCollection(ctx, "docs_g1", readstore.KindQueue))
	wantErr(t, "unknown kind", s.EnsureCollection(ctx, "other_g1", readstore.Kind(42)))
	for _, name := range []string{"", "Docs", "1docs", "_docs", "docs-g1", "docs.g1", `docs"; DROP TABLE x; --`,
		"docs g1", strings.Repeat("a", 64), "dócs"} {
		wantErr(t, fmt.Sprintf("EnsureCollection(%q)", name), s.EnsureCollection(ctx, name, readstore.KindDocs))
		wantErr(t, fmt.Sprintf("DropCollection(%q)", name), s.DropCollection(ctx, name))
		wantErr(t, fmt.Sprintf("SetAliases(%q → docs_g1)", name), s.SetAliases(ctx, map[string]string{name: "docs_g1"}))
		if name != "" {
			wantErr(t, fmt.Sprintf("SetAliases(x → %q)", name), s.SetAliases(ctx, map[string]string{"x": name}))
		}
		_, err := s.Get(ctx, name, "a")
		wantErr(t, fmt.Sprintf("Get(%q)", name), err)
	}
	ensure(t, s, strings.Repeat("a", 63), readstore.KindQueue) // the longest valid name
	if err := s.DropCollection(ctx, strings.Repeat("a", 63)); err != nil {
		t.Fatal(err)
	}
}

func testAliases(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	ensure(t, s, "cab_g1", readstore.KindQueue)
	ensure(t, s, "cab_g2", readstore.KindQueue)
	deadline := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	qf := readstore.QueueFields{Status: "new", Deadline: deadline}
	flush(t, s,
		putQ("cab_g1", "x", 1, `{"gen":1}`, qf),
		putQ("cab_g1", "only1", 1, `{"gen":1}`, qf),
		putQ("cab_g2", "x", 2, `{"gen":2}`, qf),
	)
	seen := func(wantGen string, wantIDs []string) {
		t.Helper()
		wantJSON(t, "Get via alias", get(t, s, "cab", "x").Body, `{"gen":`+wantGen+`}`)
		docs, err := s.List(ctx, readstore.ListQuery{Collection: "cab"})
		if err != nil || !slices.Equal(ids(docs), wantIDs) {
			t.Fatalf("List via alias = %q, %v; want %q", ids(docs), err, wantIDs)
		}
		page, err := s.Queue(ctx, readstore.QueueQuery{Collection: "cab", Status: []string{"new"}})
		if err != nil || !slices.Equal(ids(page.Docs), wantIDs) {
			t.Fatalf("Queue via alias = %q, %v; want %q", ids(page.Docs), err, wantIDs)
		}
	}
	alias := func(logical, want string) {
		t.Helper()
		got, err := s.Alias(ctx, logical)
		if want == "" {
			wantErrIs(t, "Alias("+logical+")", err, readstore.ErrNotFound)
			return
		}
		if err != nil || got != want {
			t.Fatalf("Alias(%q) = %q, %v; want %q", logical, got, err, want)
		}
	}

	alias("cab", "")
	setAliases(t, s, map[string]string{"cab": "cab_g1"})
	alias("cab", "cab_g1")
	seen("1", []string{"only1", "x"})

	// The switch is visible at once, to every read path.
	setAliases(t, s, map[string]string{"cab": "cab_g2", "old": "cab_g1"})
	alias("cab", "cab_g2")
	alias("old", "cab_g1")
	seen("2", []string{"x"})

	// All or nothing: one bad target fails the whole call.
	err := s.SetAliases(ctx, map[string]string{"cab": "cab_g1", "zed": "missing_g1"})
	wantErrIs(t, "SetAliases to a missing collection", err, readstore.ErrNoCollection)
	alias("cab", "cab_g2")
	alias("zed", "")

	// Names not in the map keep their alias.
	setAliases(t, s, map[string]string{"other": "cab_g2"})
	alias("cab", "cab_g2")
	alias("old", "cab_g1")

	// An aliased collection cannot be dropped; remove the alias first.
	wantErr(t, "drop of an aliased collection", s.DropCollection(ctx, "cab_g1"))
	if _, err := s.GetPhysical(ctx, "cab_g1", "only1"); err != nil {
		t.Fatalf("refused drop still removed data: %v", err)
	}
	setAliases(t, s, map[string]string{"old": ""})
	alias("old", "")
	if err := s.DropCollection(ctx, "cab_g1"); err != nil {
		t.Fatalf("DropCollection: %v", err)
	}
	_, err = s.GetPhysical(ctx, "cab_g1", "x")
	wantErrIs(t, "GetPhysical of dropped", err, readstore.ErrNoCollection)
	if err := s.DropCollection(ctx, "cab_g1"); err != nil {
		t.Fatalf("second DropCollection: %v", err)
	}
	if err := s.DropCollection(ctx, "never_g1"); err != nil {
		t.Fatalf("DropCollection of a never-created collection: %v", err)
	}
	err = s.SetAliases(ctx, map[string]string{"cab": "cab_g1"})
	wantErrIs(t, "alias to dropped", err, readstore.ErrNoCollection)
	seen("2", []string{"x"})

	// A recreated generation starts empty.
	ensure(t, s, "cab_g1", readstore.KindQueue)
	_, err = s.GetPhysical(ctx, "cab_g1", "x")
	wantErrIs(t, "GetPhysical of recreated", err, readstore.ErrNotFound)
}

// --- blobs -----------------------------------------------------------------

func readBlob(t *testing.T, s readstore.Store, sum string) ([]byte, readstore.BlobInfo) {
	t.Helper()
	rc, info, err := s.OpenBlob(t.Context(), sum)
	if err != nil {
		t.Fatalf("OpenBlob(%s): %v", sum, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read blob %s: %v", sum, err)
	}
	return b, info
}

func testBlobs(t *testing.T, s readstore.Store) {
	ctx := t.Context()
	// Larger than one GridFS chunk (255 KiB), so chunking is exercised.
	big := make([]byte, 600_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	sumOf := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

	info, err := s.PutBlob(ctx, bytes.NewReader(big), "image/png")
	if err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	want := readstore.BlobInfo{SHA256: sumOf(big), Size: int64(len(big)), ContentType: "image/png"}
	if info != want {
		t.Fatalf("PutBlob info %+v, want %+v", info, want)
	}
	again, err := s.PutBlob(ctx, bytes.NewReader(big), "application/pdf")
	if err != nil {
		t.Fatalf("second PutBlob: %v", err)
	}
	if again != want {
		t.Fatalf("second PutBlob info %+v, want the first %+v", again, want)
	}
	got, gotInfo := readBlob(t, s, want.SHA256)
	if !bytes.Equal(got, big) || gotInfo != want {
		t.Fatalf("OpenBlob: %d bytes (equal %v), info %+v; want %+v", len(got), bytes.Equal(got, big), gotInfo, want)
	}

	small := []byte("hello, scans")
	smallInfo, err := s.PutBlob(ctx, bytes.NewReader(small), "text/plain")
	if err != nil || smallInfo.SHA256 != sumOf(small) || smallInfo.Size != int64(len(small)) {
		t.Fatalf("PutBlob(small) = %+v, %v", smallInfo, err)
	}
	empty, err := s.PutBlob(ctx, bytes.NewReader(nil), "text/plain")
	if err != nil || empty.SHA256 != sumOf(nil) || empty.Size != 0 {
		t.Fatalf("PutBlob(empty) = %+v, %v", empty, err)
	}
	if b, _ := readBlob(t, s, empty.SHA256); len(b) != 0 {
		t.Fatalf("empty blob read back %d bytes", len(b))
	}

	if err := s.DeleteBlob(ctx, want.SHA256); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	_, _, err = s.OpenBlob(ctx, want.SHA256)
	wantErrIs(t, "OpenBlob after delete", err, readstore.ErrNotFound)
	if err := s.DeleteBlob(ctx, want.SHA256); err != nil {
		t.Fatalf("second DeleteBlob: %v", err)
	}
	if b, info := readBlob(t, s, smallInfo.SHA256); !bytes.Equal(b, small) || info.ContentType != "text/plain" {
		t.Fatalf("other blob after delete: %q %+v", b, info)
	}
	// After a delete the same bytes can be stored again, with a new type.
	info, err = s.PutBlob(ctx, bytes.NewReader(big), "image/jpeg")
	if err != nil || info.ContentType != "image/jpeg" {
		t.Fatalf("PutBlob after delete = %+v, %v", info, err)
	}
	if b, _ := readBlob(t, s, info.SHA256); !bytes.Equal(b, big) {
		t.Fatal("re-put blob differs")
	}

	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("g", 64)} {
		_, _, err := s.OpenBlob(ctx, bad)
		wantErrIs(t, fmt.Sprintf("OpenBlob(%q)", bad), err, readstore.ErrNotFound)
		wantErr(t, fmt.Sprintf("DeleteBlob(%q)", bad), s.DeleteBlob(ctx, bad))
	}

	// A cancelled context stops an upload.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.PutBlob(cctx, bytes.NewReader(small), "text/plain"); err == nil {
		t.Fatal("PutBlob with a cancelled context succeeded")
	}
}
