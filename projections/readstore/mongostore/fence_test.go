package mongostore

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

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
