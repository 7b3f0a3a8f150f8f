package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

// A submission parked and replayed after a staff read of a scan it shares
// with another application gets that read into its log, as a rebuild
// does: the read was logged for the other application only (review,
// session 23). A read of a scan before any application held it (an МФЦ
// operator's, of the scan the applicant has just uploaded) gets into the
// log of the application that takes the scan in.
func TestAParkedSubmissionGetsTheReadsOfItsScans(t *testing.T) {
	g := newRig(t)
	p := &runnertest.Failing{Projection: history.Projection{}}
	g.startAs(p, true)
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
	p := &runnertest.Failing{Projection: history.Projection{}}
	g.startAs(p, true)
	alice := events.Actor{ID: "alice", Role: events.RoleApplicant}
	op := events.Actor{ID: "op-1", Role: events.RoleOperator}
	a, b, scan := uuid.NewString(), uuid.NewString(), uuid.NewString()

	g.append(schema.ApplicationStream(a), alice, submitted(a, "alice", scan))
	p.Fail(schema.AccessStream(op.ID))
	g.read(op, schema.AccessDocument+"passport", scan)
	g.catchUp()
	p.Fail()
	g.append(schema.ApplicationStream(b), alice, submitted(b, "alice", scan))
	g.catchUp()
	if n, err := g.runner.ReplayParked(context.Background(), "history"); err != nil || n != 1 {
		t.Fatalf("replay: %d %v, want 1 replayed", n, err)
	}
	want := []string{"operator:op-1:document:passport"}
	live := map[string][]history.AccessEntry{a: g.accessLog(a), b: g.accessLog(b)}
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
}
