package mongostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore/mongotest"
	"github.com/omsonline/oms/projections/readstore/storetest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openDB opens a store on a fresh database that is dropped after the test.
func openDB(t *testing.T, uri string) *Store {
	t.Helper()
	db := mongotest.Database(t)
	s, err := Open(t.Context(), Options{URI: uri, Database: db, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		mongotest.DropDatabase(t, uri, db)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContractFerretDB(t *testing.T) {
	uri := mongotest.URI(t)
	storetest.Run(t, func(t *testing.T) readstore.Store { return openDB(t, uri) })
}

func TestContractMongoDB(t *testing.T) {
	uri := mongotest.RealURI(t)
	storetest.Run(t, func(t *testing.T) readstore.Store { return openDB(t, uri) })
}

func TestOpenValidates(t *testing.T) {
	if _, err := Open(t.Context(), Options{URI: "mongodb://127.0.0.1:1"}); err == nil {
		t.Fatal("Open without Database succeeded")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, Options{URI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", Database: "x"}); err == nil {
		t.Fatal("Open against a closed port succeeded")
	}
}

func TestBodyConversion(t *testing.T) {
	for _, body := range []string{
		`{}`,
		`{"a":1,"b":-2,"c":1.5,"d":1e300,"e":"\u0000x\"y","f":[],"g":{},"h":null,"i":true,"j":false}`,
		// Extended-JSON look-alikes stay plain data.
		`{"$date":"2030-01-01","when":{"$date":{"$numberLong":"1"}},"id":{"$oid":"5f1d7e1b2c3a4b5d6e7f8a9b"}}`,
		`{"nested":[[1,[2,[3]]],{"x":{"y":{"z":"deep"}}}],"big":9223372036854775807,"huge":18446744073709551615}`,
		` {"spaces" : [ 1 , 2 ] } `,
	} {
		d, _, err := jsonToBSON([]byte(body))
		if err != nil {
			t.Fatalf("jsonToBSON(%s): %v", body, err)
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatalf("marshal %s: %v", body, err)
		}
		back, err := bsonToJSON(raw)
		if err != nil {
			t.Fatalf("bsonToJSON(%s): %v", body, err)
		}
		var want, got any
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(back, &got); err != nil {
			t.Fatalf("round trip of %s is not JSON: %s", body, back)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %s = %s", body, back)
		}
	}
	for body, want := range map[string]bool{
		`{"a":[1,{"b":[2]}],"c":{"d":"e.f $g"}}`: true,
		`{"a":[[1]]}`:                            false,
		`{"x":{"a":[{"b":[[1]]}]}}`:              false,
		`{"$ref":1}`:                             false,
		`{"x":{"a.b":1}}`:                        false,
		`{"a":1,"a":2}`:                          false,
		`{"a\u0000":1}`:                          false,
	} {
		if _, portable, err := jsonToBSON([]byte(body)); err != nil || portable != want {
			t.Errorf("jsonToBSON(%s): portable %v, %v; want %v", body, portable, err, want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":}`, `{} {}`, `{"a":1e999}`} {
		if _, _, err := jsonToBSON([]byte(bad)); err == nil {
			t.Fatalf("jsonToBSON(%q) succeeded", bad)
		}
	}
}

func TestStoredShape(t *testing.T) {
	s := openDB(t, mongotest.URI(t))
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "queue_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	err := s.Flush(ctx, []readstore.Write{{Collection: "queue_g1", Doc: readstore.Doc{
		ID: "a", Position: 3, Body: json.RawMessage(`{"k":"v","n":[1,2]}`),
		Queue: &readstore.QueueFields{Status: "new", Deadline: deadline}}}},
		readstore.Checkpoint{Projection: "p", Position: 3})
	if err != nil {
		t.Fatal(err)
	}
	var raw bson.M
	if err := s.db.Collection("queue_g1").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	body, ok := raw["body"].(bson.M)
	if !ok || body["k"] != "v" {
		t.Fatalf("body is not stored as a BSON document: %#v", raw["body"])
	}
	if raw["deadline"] != deadline.UnixNano() || raw["assignee"] != "" || raw["waiting"] != false || raw["status"] != "new" {
		t.Fatalf("queue fields stored as %#v", raw)
	}
}

func TestQueueIndexesCreated(t *testing.T) {
	s := openDB(t, mongotest.URI(t))
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "queue_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	// Idempotent: the second call finds everything in place.
	if err := s.EnsureCollection(ctx, "queue_g1", readstore.KindQueue); err != nil {
		t.Fatal(err)
	}
	cur, err := s.db.Collection("queue_g1").Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []struct {
		Name string `bson:"name"`
		Key  bson.D `bson:"key"`
	}
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range idx {
		var keys []string
		for _, k := range i.Key {
			keys = append(keys, k.Key)
		}
		got[i.Name] = fmt.Sprint(keys)
	}
	for _, m := range queueIndexes {
		name := *m.Options.Name
		var keys []string
		for _, k := range m.Keys.(bson.D) {
			keys = append(keys, k.Key)
		}
		if got[name] != fmt.Sprint(keys) {
			t.Errorf("index %s = %q, want %v (all: %v)", name, got[name], keys, got)
		}
	}
}

func TestBlobDedupedInGridFS(t *testing.T) {
	s := openDB(t, mongotest.URI(t))
	ctx := t.Context()
	data := bytes.Repeat([]byte("scan "), 100_000) // two GridFS chunks
	var sum string
	for range 3 {
		info, err := s.PutBlob(ctx, bytes.NewReader(data), "image/png")
		if err != nil {
			t.Fatal(err)
		}
		sum = info.SHA256
	}
	n, err := s.filesColl().CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d GridFS files after three puts of the same bytes, want 1", n)
	}
	chunks, err := s.db.Collection(BucketName+".chunks").CountDocuments(ctx, bson.D{})
	if err != nil || chunks != 2 {
		t.Fatalf("%d chunks (%v), want 2: duplicate uploads left chunks behind", chunks, err)
	}
	var f blobFile
	if err := s.filesColl().FindOne(ctx, bson.D{}).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if f.Filename != sum || f.Metadata.ContentType != "image/png" {
		t.Fatalf("GridFS file %+v, want filename %s and contentType image/png in metadata", f, sum)
	}
	if err := s.DeleteBlob(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.db.Collection(BucketName+".chunks").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d chunks left after DeleteBlob", n)
	}
}

// Other processes see an alias switch within the catalog TTL; this Store
// sees its own at once (the contract suite checks that).
func TestCatalogTTL(t *testing.T) {
	uri := mongotest.URI(t)
	a := openDB(t, uri)
	ctx := t.Context()
	b, err := Open(ctx, Options{URI: uri, Database: a.db.Name(), Logger: quietLogger(), CatalogTTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	for _, p := range []string{"docs_g1", "docs_g2"} {
		if err := a.EnsureCollection(ctx, p, readstore.KindDocs); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Alias(ctx, "docs"); err != nil || p != "docs_g1" {
		t.Fatalf("b sees %q, %v", p, err)
	}
	if err := a.SetAliases(ctx, map[string]string{"docs": "docs_g2"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		p, err := b.Alias(ctx, "docs")
		if err != nil {
			t.Fatal(err)
		}
		if p == "docs_g2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b did not see the switch within 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentUpserts needs a server with real per-document atomicity:
// eight writers upsert the same new document at once. MongoDB retries the
// duplicate-key race of concurrent upserts itself; FerretDB v1 does not (run
// against it, this test fails with E11000 on a few of the racing upserts),
// which is why this runs only against OMS_TEST_MONGO_URI.
func TestConcurrentUpserts(t *testing.T) {
	concurrentUpserts(t, mongotest.RealURI(t))
}

func concurrentUpserts(t *testing.T, uri string) {
	s := openDB(t, uri)
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				id := fmt.Sprintf("doc-%d", r) // every writer races on each new doc
				body := fmt.Sprintf(`{"writer":%d,"round":%d}`, w, r)
				err := s.Flush(ctx, []readstore.Write{{Collection: "docs_g1",
					Doc: readstore.Doc{ID: id, Position: uint64(r), Body: json.RawMessage(body)}}},
					readstore.Checkpoint{Projection: fmt.Sprintf("writer-%d", w), Position: uint64(r)})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	docs, err := s.List(ctx, readstore.ListQuery{Collection: "docs", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != rounds {
		t.Fatalf("%d documents, want %d: concurrent upserts duplicated or lost documents", len(docs), rounds)
	}
	for _, d := range docs {
		var b struct{ Writer, Round int }
		if err := json.Unmarshal(d.Body, &b); err != nil || fmt.Sprintf("doc-%d", b.Round) != d.ID || b.Writer < 0 || b.Writer >= writers {
			t.Fatalf("doc %s has a torn body %s", d.ID, d.Body)
		}
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil || len(cps) != writers {
		t.Fatalf("%d checkpoints, %v", len(cps), err)
	}
	for _, cp := range cps {
		if cp.Position != rounds-1 {
			t.Fatalf("checkpoint %+v, want position %d", cp, rounds-1)
		}
	}
}

// Without a transaction, a stale term can pass the early look at the
// checkpoint just before its successor stores a newer token, and then
// write its documents. Each document's own token stops that write where
// the successor got there first. Here the early look passes because the
// stale flush names a projection without a checkpoint, while the document
// carries the successor's token.
func TestFencedDocumentsRefuseAStaleWrite(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, mongotest.URI(t))
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, map[string]string{"docs": "docs_g1"}); err != nil {
		t.Fatal(err)
	}
	put := func(id string, pos uint64, body string) readstore.Write {
		return readstore.Write{Collection: "docs_g1", Doc: readstore.Doc{ID: id, Position: pos, Body: json.RawMessage(body)}}
	}
	if err := s.Flush(ctx, []readstore.Write{put("a", 20, `{"by":"successor"}`), put("b", 20, `{"by":"successor"}`)},
		readstore.Checkpoint{Projection: "successor", Position: 20, Fence: 7}); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(ctx, []readstore.Write{put("a", 15, `{"by":"stale"}`), put("fresh", 15, `{"by":"stale"}`),
		{Collection: "docs_g1", Doc: readstore.Doc{ID: "b"}, Delete: true}},
		readstore.Checkpoint{Projection: "stale", Position: 15, Fence: 5})
	if !errors.Is(err, readstore.ErrFenced) {
		t.Fatalf("stale flush: %v, want ErrFenced", err)
	}
	for _, id := range []string{"a", "b"} {
		d, err := s.Get(ctx, "docs", id)
		if err != nil || d.Position != 20 {
			t.Fatalf("the successor's %s after the stale flush: %+v, %v", id, d, err)
		}
	}
	if _, err := s.LoadCheckpoint(ctx, "stale"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("the refused flush stored its checkpoint: %v", err)
	}
	// What no newer term wrote may land (the port allows it): the
	// adapter's documented limit, not a promise; only the absence of an
	// error matters here.
	if _, err := s.Get(ctx, "docs", "fresh"); err != nil && !errors.Is(err, readstore.ErrNotFound) {
		t.Fatal(err)
	}
}
