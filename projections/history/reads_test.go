package history_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/storetest"
	"github.com/omsonline/oms/projections/runner"
)

// startCounted runs the history projection on the rig's store behind a
// counter of the reads of one of its collections; hidden hides the store's
// atomic flushes, as on MongoDB, and cacheBytes 0 is the runner's default
// cache.
func startCounted(t *testing.T, g *rig, coll string, hidden bool, cacheBytes int64) *storetest.Reads {
	t.Helper()
	counter := &storetest.Reads{Store: g.store, Prefix: coll + "_g", Hidden: hidden}
	sub := eventstore.NewSubscriber(g.events, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(g.store)})
	r, err := runner.New(context.Background(), runner.Options{Store: counter, Subscriber: sub, Events: g.events, FlushInterval: time.Millisecond, CacheBytes: cacheBytes}, history.Projection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	<-r.Running()
	g.runner = r
	t.Cleanup(func() { cancel(); r.Close() })
	return counter
}

// Live events look up their audit entry in the store only where a crash
// can have left it there ahead of the view: on a store without atomic
// flushes. On SQLite an event past the checkpoint has written nothing.
func TestEntriesAreLookedUpOnlyWhereTheyCanExist(t *testing.T) {
	// Without atomic flushes, one read per event (3).
	storetest.BothFlushes(t, 0, 3, func(t *testing.T, hidden bool, wantReads int64) {
		g := newRig(t)
		counter := startCounted(t, g, history.Entries, hidden, 0)

		appID := uuid.NewString()
		stream := schema.ApplicationStream(appID)
		rev := events.Actor{ID: "rev-1", Role: events.RoleReviewer}
		g.append(stream, events.Actor{ID: "alice", Role: events.RoleApplicant}, submitted(appID, "alice"))
		g.catchUp() // the next events find the view in the store or the cache, not in the batch
		g.append(stream, rev, schema.ApplicationClaimed{ApplicationID: appID, ReviewerID: "rev-1", ClaimedAt: g.at})
		g.append(stream, rev, schema.ApplicationApproved{ApplicationID: appID, ReviewerID: "rev-1", ApprovedAt: g.at})
		g.catchUp()

		if got := counter.Count(); got != wantReads {
			t.Fatalf("%d store reads of audit entries, want %d", got, wantReads)
		}
		entries, err := g.store.List(context.Background(), readstore.ListQuery{Collection: history.Entries, Prefix: appID + "/", Limit: 10})
		if err != nil || len(entries) != 3 {
			t.Fatalf("%d entries (%v), want 3", len(entries), err)
		}
	})
}

// A submission looks its scans up in the scan index only where a scan may
// already be there: one uploaded before (an upload gives its scan a new
// id, so nothing can have referred to it) is known to be absent without a
// read, on a store that flushes atomically. A second application referring
// to the same scan still finds the first in the index.
func TestNewScansAreNotLookedUp(t *testing.T) {
	storetest.BothFlushes(t, 1, 3, func(t *testing.T, hidden bool, wantReads int64) {
		g := newRig(t)
		counter := startCounted(t, g, history.Documents, hidden, 0)
		alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
		uploaded, unseen := []string{uuid.NewString(), uuid.NewString()}, uuid.NewString()
		for _, id := range uploaded {
			g.append(schema.DocumentStream(id), alice, schema.DocumentUploaded{DocumentID: id, OwnerID: "alice", Kind: "passport", SHA256: "00", Size: 1, ContentType: "image/png", UploadedAt: g.at})
		}
		g.catchUp()
		a, b := uuid.NewString(), uuid.NewString()
		// unseen has no upload event here (a form of an older store
		// may refer to such a scan): it is looked up.
		g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", uploaded[0], uploaded[1], unseen))
		g.catchUp()
		if got := counter.Count(); got != wantReads {
			t.Fatalf("%d store reads of the scan index, want %d", got, wantReads)
		}
		g.append(schema.ApplicationStream(b), alice, submitted(b, "alice", uploaded[0]))
		g.catchUp()
		want := map[string][]string{uploaded[0]: {a, b}, uploaded[1]: {a}, unseen: {a}}
		for scan, apps := range want {
			d, err := g.store.Get(context.Background(), history.Documents, scan)
			if err != nil {
				t.Fatalf("index of %s: %v", scan, err)
			}
			var idx struct {
				Applications []struct{ ApplicationID string }
			}
			if err := json.Unmarshal(d.Body, &idx); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range idx.Applications {
				got = append(got, x.ApplicationID)
			}
			if !slices.Equal(got, apps) {
				t.Errorf("index of %s = %v, want %v", scan, got, apps)
			}
		}
	})
}

// A rebuild knows which scans it never indexed without notes from their
// uploads: with notes, a cache too small to keep them all turned each
// evicted one into a store read that found nothing.
func TestRebuildDoesNotLookNewScansUp(t *testing.T) {
	g := newRig(t)
	counter := startCounted(t, g, history.Documents, false, 0)
	alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
	scans := make([]string, 100)
	for i := range scans {
		scans[i] = uuid.NewString()
		g.append(schema.DocumentStream(scans[i]), alice, schema.DocumentUploaded{DocumentID: scans[i], OwnerID: "alice", Kind: "passport", SHA256: "00", Size: 1, ContentType: "image/png", UploadedAt: g.at})
	}
	for _, scan := range scans {
		a := uuid.NewString()
		g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", scan))
	}
	g.catchUp()
	live := g.snapshot()
	counter.Reset()
	if _, err := g.runner.Rebuild(context.Background(), "history", runner.RebuildOptions{BatchSize: 20, CacheBytes: 8000}); err != nil {
		t.Fatal(err)
	}
	if n := counter.Count(); n != 0 {
		t.Fatalf("the rebuild read the scan index %d times", n)
	}
	if rebuilt := g.snapshot(); !maps.Equal(live, rebuilt) {
		t.Fatalf("the rebuild differs from the live documents: %d against %d", len(rebuilt), len(live))
	}
}

// A scan's note outlives a cache too small to keep it until the form that
// refers to it: between the upload and the submission, other applicants'
// documents go by.
func TestScanNoteOutlivesTheCache(t *testing.T) {
	g := newRig(t)
	counter := startCounted(t, g, history.Documents, false, 4000)
	alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
	upload := func() string {
		id := uuid.NewString()
		g.append(schema.DocumentStream(id), alice, schema.DocumentUploaded{DocumentID: id, OwnerID: "alice", Kind: "passport", SHA256: "00", Size: 1, ContentType: "image/png", UploadedAt: g.at})
		return id
	}
	early := upload()
	g.catchUp()
	for range 30 {
		a := uuid.NewString()
		g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", upload()))
		g.catchUp()
	}
	a := uuid.NewString()
	g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", early))
	g.catchUp()
	if n := counter.Count(); n != 0 {
		t.Fatalf("%d store reads of the scan index, want 0", n)
	}
}
