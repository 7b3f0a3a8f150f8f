package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// A submission parked and replayed after a staff read of a scan it shares
// with another application gets that read into its log, as a rebuild
// does: the read was logged for the other application only (review,
// session 23). A read of a scan before any application held it (an МФЦ
// operator's, of the scan the applicant has just uploaded) gets into the
// log of the application that takes the scan in.
func TestAParkedSubmissionGetsTheReadsOfItsScans(t *testing.T) {
	g := newRig(t)
	p := g.startParking()
	alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
	rev := events.Actor{ID: "rev-1", Role: events.RoleReviewer}
	op := events.Actor{ID: "op-1", Role: events.RoleOperator}
	a, b := uuid.NewString(), uuid.NewString()
	shared, loose, other := uuid.NewString(), uuid.NewString(), uuid.NewString()

	g.append(schema.ApplicationStream(b), alice, submitted(b, "alice", shared, other))
	g.read(op, schema.AccessDocument+"residence_document", loose)
	p.Fail(schema.ApplicationStream(a))
	g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", shared, loose))
	g.catchUp()
	p.Fail()
	g.read(rev, schema.AccessDocument+"passport", shared)
	g.catchUp()

	if got := describe(g.accessLog(a)); len(got) != 0 {
		t.Fatalf("with the submission parked, its log holds %v", got)
	}
	wantB := []string{"reviewer:rev-1:document:passport"}
	if got := describe(g.accessLog(b)); fmt.Sprint(got) != fmt.Sprint(wantB) {
		t.Fatalf("log of the other application: %v, want %v", got, wantB)
	}
	// The read wrote the loose scan an index entry; the sweeper, which
	// deletes scans no application holds, must still see it as loose.
	attached := func() bool {
		t.Helper()
		ok, err := history.Attached(context.Background(), g.store, loose)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if attached() {
		t.Fatal("a scan only read by staff counts as attached")
	}
	if n, err := g.runner.ReplayParked(context.Background(), "history"); err != nil || n != 1 {
		t.Fatalf("replay: %d %v, want 1 replayed", n, err)
	}
	wantA := []string{"operator:op-1:document:residence_document", "reviewer:rev-1:document:passport"}
	live := map[string][]history.AccessEntry{a: g.accessLog(a), b: g.accessLog(b)}
	if got := describe(live[a]); fmt.Sprint(got) != fmt.Sprint(wantA) {
		t.Fatalf("after the replay: %v, want %v", got, wantA)
	}
	if !attached() {
		t.Fatal("the scan of the replayed submission does not count as attached")
	}
	for _, e := range live[a] {
		if e.ApplicationID != a || e.EventID == "" || e.DocumentID == "" || e.AccessedAt.IsZero() {
			t.Errorf("entry copied into the log: %+v", e)
		}
	}

	// A rebuild, which applies every event in its order, agrees.
	if _, err := g.runner.Rebuild(context.Background(), "history", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for id, want := range live {
		if got := g.accessLog(id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("log of %s after a rebuild:\n got %+v\nwant %+v", id, got, want)
		}
	}
}

// A parked read of a scan, replayed after another application took the
// scan in, is in that application's log too, as a rebuild puts it: the
// application copied the reads known when it took the scan in, and the
// parked one was not among them.
func TestAParkedReadReachesAnApplicationThatTookTheScanInSince(t *testing.T) {
	g := newRig(t)
	p := g.startParking()
	alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
	op := events.Actor{ID: "op-1", Role: events.RoleOperator}
	a, b, scan := uuid.NewString(), uuid.NewString(), uuid.NewString()

	g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", scan))
	p.Fail(schema.AccessStream(op.ID))
	g.read(op, schema.AccessDocument+"passport", scan)
	g.catchUp()
	p.Fail()
	g.append(schema.ApplicationStream(b), alice, submitted(b, "alice", scan))
	g.read(events.Actor{ID: "rev-9", Role: events.RoleReviewer}, schema.AccessDocument+"passport", scan)
	g.catchUp()
	if n, err := g.runner.ReplayParked(context.Background(), "history"); err != nil || n != 1 {
		t.Fatalf("replay: %d %v, want 1 replayed", n, err)
	}
	want := []string{"operator:op-1:document:passport", "reviewer:rev-9:document:passport"}
	live := map[string][]history.AccessEntry{a: g.accessLog(a), b: g.accessLog(b)}
	index := func() string {
		t.Helper()
		d, err := g.store.Get(context.Background(), history.Documents, scan)
		if err != nil {
			t.Fatal(err)
		}
		return string(d.Body)
	}
	liveIndex := index()
	for id, log := range live {
		if got := describe(log); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("log of %s after the replay: %v, want %v", id, got, want)
		}
	}
	if _, err := g.runner.Rebuild(context.Background(), "history", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for id, want := range live {
		if got := g.accessLog(id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("log of %s after a rebuild:\n got %+v\nwant %+v", id, got, want)
		}
	}
	// The scan's index lists its reads in order, the late one too.
	if got := index(); got != liveIndex {
		t.Errorf("scan index after a rebuild:\n%s\nlive:\n%s", got, liveIndex)
	}
}

// A crash that flushed the scan index but not the access log (MongoDB
// writes one collection after another) leaves the index naming a read
// whose entry is not there. The replay of a submission before that read
// took it for corruption and parked the submission, and with it every
// later event of the application (review).
func TestACrashBetweenTheScanIndexAndTheLogLosesNothing(t *testing.T) {
	g := newRig(t)
	a, scan := uuid.NewString(), uuid.NewString()
	g.append(schema.ApplicationStream(a), events.Actor{ID: "alice", Role: events.RoleApplicant}, submitted(a, "alice", scan))
	g.read(events.Actor{ID: "rev-1", Role: events.RoleReviewer}, schema.AccessDocument+"passport", scan)
	g.startAs(history.Projection{}, true)
	g.catchUp()
	want := g.snapshot()
	g.stop()

	// What such a crash leaves: the index flushed, the log and the views
	// (flushed after it) not, the checkpoint before both events.
	ctx := context.Background()
	var undo []readstore.Write
	for _, coll := range []string{history.Access, history.Applications} {
		phys, err := g.store.Alias(ctx, coll)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := g.store.List(ctx, readstore.ListQuery{Collection: coll, Limit: readstore.MaxLimit})
		if err != nil || len(docs) == 0 {
			t.Fatalf("%s: %d documents, %v", coll, len(docs), err)
		}
		for _, d := range docs {
			undo = append(undo, readstore.Write{Collection: phys, Doc: readstore.Doc{ID: d.ID}, Delete: true})
		}
	}
	cp, err := g.store.LoadCheckpoint(ctx, "history")
	if err != nil {
		t.Fatal(err)
	}
	cp.Position = 0
	if err := g.store.Flush(ctx, undo, cp); err != nil {
		t.Fatal(err)
	}

	g.startAs(history.Projection{}, true)
	g.catchUp()
	parked, err := g.events.ListParked(ctx, eventstore.ParkedStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parked {
		t.Errorf("parked by the replay: %s: %s", p.Message.Metadata[eventstore.MetaStream], p.Reason())
	}
	if diff := compare(want, g.snapshot()); diff != "" {
		t.Errorf("after the replay: %s", diff)
	}
}
