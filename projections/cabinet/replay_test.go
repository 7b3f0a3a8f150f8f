package cabinet_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
	"github.com/omsonline/oms/projections/visits"
)

// live is the cabinet projection running on a live subscription, parking
// what it fails.
type live struct {
	t   *testing.T
	now time.Time
	es  *eventstore.Store
	st  *sqlitestore.Store
	p   *runnertest.Failing
	r   *runner.Runner
}

func newLive(t *testing.T) *live {
	l := &live{t: t, now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), p: &runnertest.Failing{Projection: cabinet.Projection{}}}
	l.es = esdbtest.Store(t, eventstore.Options{Now: func() time.Time { return l.now }})
	l.r, l.st = runnertest.Parking(t, l.es, l.p)
	return l
}

// record appends e to stream a minute after the last, and waits until the
// projection has applied or parked it.
func (l *live) record(stream string, e schema.Event) {
	l.t.Helper()
	ctx := context.Background()
	l.now = l.now.Add(time.Minute)
	typ, v, data, err := schema.Encode(e)
	if err != nil {
		l.t.Fatal(err)
	}
	res, err := l.es.Append(ctx, stream, eventstore.Any, events.Metadata{Actor: events.Actor{ID: "op-1", Role: events.RoleOperator}},
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	if err != nil {
		l.t.Fatal(err)
	}
	wctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := l.r.WaitFor(wctx, "cabinet", res.Position); err != nil {
		l.t.Fatal(err)
	}
}

func (l *live) opened(operator, applicant string) {
	l.t.Helper()
	l.record(schema.VisitStream(applicant), schema.VisitOpened{OperatorID: operator, OpenedAt: l.now, Until: l.now.Add(4 * time.Hour)})
}

func (l *live) get(coll, id string, v any) {
	l.t.Helper()
	d, err := l.st.Get(context.Background(), coll, id)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := json.Unmarshal(d.Body, v); err != nil {
		l.t.Fatal(err)
	}
}

// listed is operator's open visits, by applicant, the latest first.
func (l *live) listed(operator string) []string {
	l.t.Helper()
	var doc visits.Doc
	l.get(visits.Collection, operator, &doc)
	var out []string
	for _, v := range doc.Open(l.now) {
		out = append(out, v.ApplicantID)
	}
	return out
}

func (l *live) replay(want int) {
	l.t.Helper()
	if n, err := l.r.ReplayParked(context.Background(), "cabinet"); err != nil || n != want {
		l.t.Fatalf("replay: %d %v, want %d replayed", n, err, want)
	}
}

// Parked visit events replayed after other applicants' events moved the
// operator's document on still reach it: a close that was parked took the
// visit off the list only with a rebuild, and an open left it off (review:
// the document's own position, moved on by another applicant's visit,
// made the replay look applied already).
func TestParkedVisitEventsReplayIntoTheList(t *testing.T) {
	l := newLive(t)
	l.opened("op-1", "ann")
	l.p.Fail(schema.VisitStream("ann"), schema.VisitStream("cat"))
	l.record(schema.VisitStream("ann"), schema.VisitClosed{OperatorID: "op-1", ClosedAt: l.now})
	l.opened("op-1", "cat")
	l.p.Fail()
	l.opened("op-1", "bob")
	if got, want := l.listed("op-1"), []string{"bob", "ann"}; !slices.Equal(got, want) {
		t.Fatalf("with ann's close and cat's open parked: %q, want %q", got, want)
	}
	l.replay(2)
	if got, want := l.listed("op-1"), []string{"bob", "cat"}; !slices.Equal(got, want) {
		t.Fatalf("after the replay: %q, want %q", got, want)
	}
	// A rebuild, which applies every event in its order, agrees.
	if _, err := l.r.Rebuild(context.Background(), "cabinet", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got, want := l.listed("op-1"), []string{"bob", "cat"}; !slices.Equal(got, want) {
		t.Fatalf("after a rebuild: %q, want %q", got, want)
	}
}

// An application's parked event replayed after the applicant's visit
// moved their cabinet on reaches the cabinet, its notice in its place by
// time: the submission was dropped as applied, and the application never
// showed until its next event (review).
func TestAParkedSubmissionReplayedAfterAVisitShows(t *testing.T) {
	l := newLive(t)
	const id = "0193b7a2-0000-7000-8000-000000000001"
	l.opened("op-1", "ann")
	l.p.Fail(schema.ApplicationStream(id))
	l.record(schema.ApplicationStream(id), schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: "ann", SubmittedAt: l.now})
	l.p.Fail()
	l.record(schema.VisitStream("ann"), schema.VisitClosed{OperatorID: "op-1", ClosedAt: l.now})
	var doc cabinet.Doc
	l.get(cabinet.Collection, "ann", &doc)
	if len(doc.Applications) != 0 {
		t.Fatalf("the parked submission is in the cabinet already: %+v", doc.Applications)
	}
	l.replay(1)
	l.get(cabinet.Collection, "ann", &doc)
	if len(doc.Applications) != 1 || doc.Applications[0].ApplicationID != id {
		t.Fatalf("after the replay the cabinet holds %+v, want application %s", doc.Applications, id)
	}
	var kinds []string
	for _, n := range doc.Inbox {
		kinds = append(kinds, n.Kind)
	}
	if want := []string{schema.TypeVisitOpened, schema.TypeApplicationSubmitted, schema.TypeVisitClosed}; !slices.Equal(kinds, want) {
		t.Fatalf("inbox %q, want %q", kinds, want)
	}
}
