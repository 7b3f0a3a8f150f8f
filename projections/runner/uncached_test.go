package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/readstore/storetest"
	"github.com/omsonline/oms/projections/runner"
)

// journal writes an entry per Tick into an uncached collection and, on a
// Seal, rewrites every earlier entry of the stream, as the audit history's
// erasure rewrites an application's entries.
type journal struct{}

func (journal) Name() string { return "counter" }
func (journal) Collections() []runner.Collection {
	return []runner.Collection{{Name: "counts", Kind: readstore.KindDocs}, {Name: "journal", Kind: readstore.KindDocs, Uncached: true}}
}

type journalEntry struct {
	Rev    uint64 `json:"rev"`
	Sealed bool   `json:"sealed"`
}

func journalID(stream string, rev uint64) string { return fmt.Sprintf("%s/%04d", stream, rev) }

func (journal) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	switch ev.Envelope.Type {
	case "Tick":
		var c count
		if _, fresh, err := tx.GetJSON("counts", ev.Stream, &c); err != nil || !fresh {
			return err
		}
		if err := tx.Put("counts", ev.Stream, count{N: c.N + 1}, nil); err != nil {
			return err
		}
		id := journalID(ev.Stream, ev.Revision)
		if !tx.FirstApply() {
			// As the history does: an entry a crash left may have been
			// rewritten since, and must stay.
			if _, exists, err := tx.Get("journal", id); err != nil || exists {
				return err
			}
		}
		return tx.Put("journal", id, journalEntry{Rev: ev.Revision}, nil)
	case "Seal":
		for rev := range ev.Revision {
			var e journalEntry
			exists, _, err := tx.GetJSON("journal", journalID(ev.Stream, rev), &e)
			if err != nil {
				return err
			}
			if !exists {
				continue
			}
			e.Sealed = true
			if err := tx.Put("journal", journalID(ev.Stream, rev), e, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// startJournal runs the journal on a fresh store whose journal reads are
// counted; atomic false hides the store's atomic flushes, as on MongoDB.
func startJournal(t *testing.T, atomic bool, o runner.Options) (*rig, *storetest.Reads) {
	t.Helper()
	base, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	reads := &storetest.Reads{Store: base, Prefix: "journal_", Hidden: !atomic}
	return startOn(t, reads, base, o, journal{}), reads
}

// seal appends a Seal to stream and waits until the journal applied it.
func (g *rig) seal(t *testing.T, stream string) {
	t.Helper()
	res, err := g.events.Append(context.Background(), stream, eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
		eventstore.NewEvent{Type: "Seal", Data: map[string]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, g.runner, res.Position)
}

// sealed checks that the first n entries of stream are there and sealed.
func (g *rig) sealed(t *testing.T, when, stream string, n uint64) {
	t.Helper()
	for rev := range n {
		d, err := g.store.Get(context.Background(), "journal", journalID(stream, rev))
		if errors.Is(err, readstore.ErrNotFound) {
			t.Fatalf("%s: entry %d of %s is missing", when, rev, stream)
		}
		if err != nil {
			t.Fatal(err)
		}
		var e journalEntry
		if err := json.Unmarshal(d.Body, &e); err != nil {
			t.Fatal(err)
		}
		if e.Rev != rev || !e.Sealed {
			t.Errorf("%s: entry %d of %s reads %+v, want it sealed", when, rev, stream, e)
		}
	}
}

// Documents of an uncached collection are read from the store, not from
// the runner's cache, and a rebuild, which knows every cached document it
// wrote and answers a miss as absent without asking, still finds them.
func TestUncachedDocumentsAreReadFromTheStore(t *testing.T) {
	g, reads := startJournal(t, true, runner.Options{Retries: 2})
	const ticks = 6
	for range ticks - 1 {
		g.tick(t, "s-1", false)
	}
	waitFor(t, g.runner, g.tick(t, "s-1", false))
	g.seal(t, "s-1")
	// Every entry was flushed before the Seal: a cached one would have
	// been found without a read.
	if n := reads.Count(); n < ticks {
		t.Errorf("the Seal read %d journal entries from the store, want all %d", n, ticks)
	}
	g.sealed(t, "live", "s-1", ticks)

	// Small batches put the early entries in the store, and the later ones
	// in the flush in flight or the batch, when the rebuild meets the Seal.
	if _, err := g.runner.Rebuild(context.Background(), "counter", runner.RebuildOptions{BatchSize: 2}); err != nil {
		t.Fatal(err)
	}
	g.sealed(t, "rebuilt", "s-1", ticks)
	if n := g.count(t, "s-1"); n != ticks {
		t.Errorf("rebuilt count %d, want %d", n, ticks)
	}
}

// A cache far smaller than the documents evicts all the time, live and in
// a rebuild; the counts and the sealed entries must come out the same as
// with room for all. A rebuild that took an evicted document for one never
// written would start its count again at 1. The store here does not flush
// atomically (as MongoDB), so every event asks for its journal entry: a
// rebuild must answer that from what it wrote, not from the store.
func TestCountsSurviveATinyCache(t *testing.T) {
	// A few hundred bytes: about one document's bookkeeping.
	g, reads := startJournal(t, false, runner.Options{Retries: 2, CacheBytes: 300})
	const streams, rounds = 7, 5
	var last uint64
	for range rounds {
		for s := range streams {
			last = g.tick(t, fmt.Sprintf("s-%d", s), false)
		}
	}
	waitFor(t, g.runner, last)
	g.seal(t, "s-0")
	check := func(when string) {
		t.Helper()
		for s := range streams {
			if n := g.count(t, fmt.Sprintf("s-%d", s)); n != rounds {
				t.Errorf("%s: s-%d counted %d, want %d", when, s, n, rounds)
			}
		}
		g.sealed(t, when, "s-0", rounds)
	}
	check("live")
	reads.Reset()
	if _, err := g.runner.Rebuild(context.Background(), "counter", runner.RebuildOptions{BatchSize: 3, CacheBytes: 300}); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
	// The Seal may read the entries already flushed; the ticks must not.
	if n := reads.Count(); n > rounds {
		t.Errorf("the rebuild read %d journal entries from the store for %d ticks and one Seal over %d entries", n, streams*rounds, rounds)
	}
}
