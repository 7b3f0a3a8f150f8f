package mongostore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore/mongotest"
)

// The current term (token 7) and a stale one (5) that passed its early
// look at the checkpoint upsert the same new document at once. The loser
// of the insert race gets a duplicate key, which MongoDB does not retry
// for a filter beyond _id; the current term must never take that for
// being fenced off, or the leaseholder itself would stop writing.
func TestRacingUpsertsNeverFenceTheNewestTerm(t *testing.T) { raceFenced(t, mongotest.URI(t)) }

func TestRacingUpsertsNeverFenceTheNewestTermMongoDB(t *testing.T) {
	raceFenced(t, mongotest.RealURI(t))
}

func raceFenced(t *testing.T, uri string) {
	s := openDB(t, uri)
	ctx := t.Context()
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	const rounds = 100
	var fenced, failed int
	var last error
	for r := range rounds {
		id := fmt.Sprintf("doc-%d", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var errNew, errStale error
		flush := func(fence uint64, proj string, out *error) {
			defer wg.Done()
			<-start
			*out = s.Flush(ctx, []readstore.Write{{Collection: "docs_g1",
				Doc: readstore.Doc{ID: id, Position: uint64(r + 1), Body: json.RawMessage(`{}`)}}},
				readstore.Checkpoint{Projection: proj, Position: uint64(r + 1), Fence: fence})
		}
		wg.Add(2)
		go flush(7, "newest-"+id, &errNew)
		go flush(5, "stale-"+id, &errStale)
		close(start)
		wg.Wait()
		switch {
		case errors.Is(errNew, readstore.ErrFenced):
			fenced++
			last = errNew
		case errNew != nil:
			failed++
			last = errNew
		}
		if errStale != nil && !errors.Is(errStale, readstore.ErrFenced) {
			t.Fatalf("round %d: the stale flush failed otherwise than fenced: %v", r, errStale)
		}
	}
	if fenced > 0 || failed > 0 {
		t.Fatalf("in %d racing flushes the newest term was told it is fenced off %d times and failed %d times (last: %v)", rounds, fenced, failed, last)
	}
}

// A stale flush that passed the early look at the checkpoint, just before
// its successor stored a newer token there, still cannot store its own
// checkpoint over the successor's.
func TestStaleCheckpointAfterTheEarlyLook(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, mongotest.URI(t))
	if err := s.Flush(ctx, nil, readstore.Checkpoint{Projection: "p", Position: 20, Generation: 1, Fence: 7}); err != nil {
		t.Fatal(err)
	}
	cp := readstore.Checkpoint{Projection: "p", Position: 15, Generation: 1, Fence: 5}
	if err := s.storeCheckpoint(ctx, cp); !errors.Is(err, readstore.ErrFenced) {
		t.Fatalf("stale checkpoint: %v, want ErrFenced", err)
	}
	got, err := s.LoadCheckpoint(ctx, "p")
	if err != nil || got.Position != 20 || got.Fence != 7 {
		t.Fatalf("checkpoint %+v (%v), want the successor's: 20 with token 7", got, err)
	}
}

// A stale term that passed the early look at the checkpoint writes a
// document its successor has deleted meanwhile. The deletion left a
// tombstone with the successor's token, so the stale upsert meets it and
// is refused, and the document stays deleted; before tombstones it came
// back.
func TestStaleWriteCannotBringBackADeletedDocument(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, mongotest.URI(t))
	for _, kind := range []readstore.Kind{readstore.KindDocs, readstore.KindQueue} {
		coll := fmt.Sprintf("c%d_g1", kind)
		if err := s.EnsureCollection(ctx, coll, kind); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAliases(ctx, map[string]string{fmt.Sprintf("c%d", kind): coll}); err != nil {
			t.Fatal(err)
		}
		w := func(id string, pos uint64, del bool) readstore.Write {
			d := readstore.Doc{ID: id, Position: pos, Body: json.RawMessage(`{}`)}
			if kind == readstore.KindQueue && !del {
				d.Queue = &readstore.QueueFields{Status: "submitted"}
			}
			return readstore.Write{Collection: coll, Doc: d, Delete: del}
		}
		proj := fmt.Sprintf("p%d", kind)
		if err := s.Flush(ctx, []readstore.Write{w("d", 10, false)}, readstore.Checkpoint{Projection: proj, Position: 10, Fence: 5}); err != nil {
			t.Fatal(err)
		}
		// The successor deletes d, and a document the stale term has not
		// written yet.
		if err := s.Flush(ctx, []readstore.Write{w("d", 20, true), w("e", 20, true)}, readstore.Checkpoint{Projection: proj, Position: 20, Fence: 7}); err != nil {
			t.Fatal(err)
		}
		// The stale term's early look is made to pass by naming another
		// projection, as if it had looked before the successor's flush.
		for _, id := range []string{"d", "e"} {
			err := s.Flush(ctx, []readstore.Write{w(id, 15, false)}, readstore.Checkpoint{Projection: proj + "-early", Position: 15, Fence: 5})
			if !errors.Is(err, readstore.ErrFenced) {
				t.Fatalf("kind %d: stale write of %s after its deletion: %v, want ErrFenced", kind, id, err)
			}
			if d, err := s.Get(ctx, fmt.Sprintf("c%d", kind), id); !errors.Is(err, readstore.ErrNotFound) {
				t.Fatalf("kind %d: the stale write brought %s back: %+v, %v", kind, id, d, err)
			}
		}
	}
}

// Tombstones go once they are older than the TTL, swept by a later fenced
// flush to the collection; younger ones stay and keep fencing.
func TestTombstonesAreSwept(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, mongotest.URI(t))
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	if err := s.EnsureCollection(ctx, "docs_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	flush := func(pos uint64, writes ...readstore.Write) {
		t.Helper()
		if err := s.Flush(ctx, writes, readstore.Checkpoint{Projection: "p", Position: pos, Fence: 7}); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(id string, del bool) readstore.Write {
		return readstore.Write{Collection: "docs_g1", Doc: readstore.Doc{ID: id, Position: 1, Body: json.RawMessage(`{}`)}, Delete: del}
	}
	stored := func() []string {
		t.Helper()
		cur, err := s.db.Collection("docs_g1").Find(ctx, bson.D{{Key: "gone", Value: bson.D{{Key: "$exists", Value: true}}}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var got []storedDoc
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.ID)
		}
		return out
	}

	flush(1, doc("old", true), doc("live", false))
	clock = clock.Add(DefaultTombstoneTTL / 2)
	flush(2, doc("young", true))
	if got := stored(); !slices.Equal(got, []string{"old", "young"}) {
		t.Fatalf("tombstones before the TTL: %q, want [old young]", got)
	}
	clock = clock.Add(DefaultTombstoneTTL/2 + time.Second)
	flush(3, doc("live", false))
	if got := stored(); !slices.Equal(got, []string{"young"}) {
		t.Fatalf("tombstones after the oldest's TTL: %q, want [young]", got)
	}
	if d, err := s.GetPhysical(ctx, "docs_g1", "live"); err != nil || d.Position != 1 {
		t.Fatalf("a live document after the sweep: %+v, %v", d, err)
	}
}
