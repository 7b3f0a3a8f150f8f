package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

type rig struct {
	t      *testing.T
	events *eventstore.Store
	store  readstore.Store
	runner *runner.Runner
	stop   func()
	at     time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	es := esdbtest.Store(t, eventstore.Options{})
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &rig{t: t, events: es, store: st, at: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// start runs the history projection from its checkpoint.
func (g *rig) start() { g.t.Helper(); g.startAs(history.Projection{}, false) }

// startParking runs the history projection behind a wrapper that can
// fail its streams, parking their events at the first failure.
func (g *rig) startParking() *runnertest.Failing {
	g.t.Helper()
	p := &runnertest.Failing{Projection: history.Projection{}}
	g.startAs(p, true)
	return p
}

// startAs runs p (the history projection, perhaps wrapped) from its
// checkpoint; parking gives up on a failing event at once, to park it.
func (g *rig) startAs(p runner.Projection, parking bool) {
	g.t.Helper()
	subOpts := eventstore.SubscriberOptions{StartFrom: runner.StartFrom(g.store)}
	opts := runner.Options{Store: g.store, Events: g.events}
	if parking {
		subOpts.NackDelay, opts.Retries = time.Millisecond, 1
	}
	opts.Subscriber = eventstore.NewSubscriber(g.events, subOpts)
	r, err := runner.New(context.Background(), opts, p)
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	<-r.Running()
	g.runner = r
	g.stop = func() { cancel(); r.Close() }
	g.t.Cleanup(g.stop)
}

func (g *rig) catchUp() {
	g.t.Helper()
	head, err := g.events.Head(context.Background())
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.runner.WaitFor(ctx, "history", head); err != nil {
		g.t.Fatalf("history did not reach %d: %v", head, err)
	}
}

func (g *rig) append(stream string, actor events.Actor, e schema.Event) {
	g.t.Helper()
	typ, v, data, err := schema.Encode(e)
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.events.Append(context.Background(), stream, eventstore.Any, events.Metadata{Actor: actor, CorrelationID: uuid.NewString()},
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		g.t.Fatal(err)
	}
}

// read records a staff read as the service does.
func (g *rig) read(actor events.Actor, what, docID string, apps ...string) {
	g.t.Helper()
	g.at = g.at.Add(time.Minute)
	g.append(schema.AccessStream(actor.ID), actor, schema.PersonalDataAccessed{
		ApplicationIDs: apps, DocumentID: docID, What: what, Route: "GET /test", AccessedAt: g.at,
	})
}

// snapshot is every document of the projection, with its position.
func (g *rig) snapshot() map[string]string {
	g.t.Helper()
	out := map[string]string{}
	for _, coll := range []string{history.Entries, history.Applications, history.Access, history.Documents} {
		after := ""
		for {
			docs, err := g.store.List(context.Background(), readstore.ListQuery{Collection: coll, AfterID: after, Limit: readstore.MaxLimit})
			if err != nil {
				g.t.Fatal(err)
			}
			for _, d := range docs {
				var v any
				if err := json.Unmarshal(d.Body, &v); err != nil {
					g.t.Fatal(err)
				}
				b, _ := json.Marshal(v)
				out[coll+"/"+d.ID] = fmt.Sprintf("%d %s", d.Position, b)
			}
			if len(docs) < readstore.MaxLimit {
				break
			}
			after = docs[len(docs)-1].ID
		}
	}
	return out
}

func (g *rig) accessLog(appID string) []history.AccessEntry {
	g.t.Helper()
	docs, err := g.store.List(context.Background(), readstore.ListQuery{Collection: history.Access, Prefix: appID + "/", Limit: readstore.MaxLimit})
	if err != nil {
		g.t.Fatal(err)
	}
	out := make([]history.AccessEntry, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal(d.Body, &out[i]); err != nil {
			g.t.Fatal(err)
		}
	}
	return out
}

func submitted(appID, applicant string, docs ...string) schema.ApplicationSubmitted {
	f := schema.Form{Applicant: schema.Applicant{LastName: "Каримов", FirstName: "Бахтиёр", BirthDate: "1990-04-12", Citizenship: "UZB"}}
	for i, d := range docs {
		f.Documents = append(f.Documents, schema.DocumentRef{Kind: schema.DocumentKinds[i%len(schema.DocumentKinds)], ID: d})
	}
	return schema.ApplicationSubmitted{ApplicationID: appID, ApplicantID: applicant, SubmittedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Form: f}
}

func describe(log []history.AccessEntry) []string {
	out := make([]string, len(log))
	for i, e := range log {
		out[i] = e.Actor.Role + ":" + e.Actor.ID + ":" + e.What
	}
	return out
}

// TestAccessLogExactlyOnce builds the access log of two applications that
// share a scan, then replays every event over the built documents (what a
// restart after a crash between a flush's documents and its checkpoint
// does) and rebuilds from scratch: the same entries, each once, with the
// same positions. The scan is read once before the second application
// refers to it and once after: both reads are in both logs (the scan is
// the applicant's data either way), the first written by the second
// submission and the second by the read, whichever is replayed first.
func TestAccessLogExactlyOnce(t *testing.T) {
	g := newRig(t)
	a, b := uuid.NewString(), uuid.NewString()
	scan, r1, c1, x, y, newScan := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	applicant := events.Actor{ID: "alice", Role: events.RoleApplicant}
	rev := events.Actor{ID: "rev-1", Role: events.RoleReviewer}
	aud := events.Actor{ID: "aud-1", Role: events.RoleAuditor}
	op := events.Actor{ID: "op-1", Role: events.RoleOperator}

	g.append(schema.ApplicationStream(a), applicant, submitted(a, "alice", scan, r1, c1))
	g.read(rev, schema.AccessApplication, "", a)
	g.read(rev, schema.AccessDocument+"passport", scan)
	g.read(rev, schema.AccessQueue, "", a)
	g.append(schema.ApplicationStream(b), applicant, submitted(b, "alice", scan, x, y))
	g.read(aud, schema.AccessDocument+"passport", scan)
	g.read(rev, schema.AccessQueue, "", a, b, a) // a repeated id is one entry
	// A: the scan is replaced; it stays in A's index.
	g.append(schema.ApplicationStream(a), applicant, schema.InfoProvided{ApplicationID: a, ProvidedAt: g.at,
		Documents: []schema.DocumentRef{{Kind: "passport", ID: newScan}, {Kind: "residence_document", ID: r1}, {Kind: "consent", ID: c1}}})
	g.read(op, schema.AccessDocument+"passport", scan)
	g.read(op, schema.AccessDocument+"passport", newScan)
	g.read(aud, schema.AccessDocument+"consent", uuid.NewString()) // a scan in no form: in no history

	g.start()
	g.catchUp()
	want := map[string][]string{
		a: {"reviewer:rev-1:application", "reviewer:rev-1:document:passport", "reviewer:rev-1:queue", "auditor:aud-1:document:passport",
			"reviewer:rev-1:queue", "operator:op-1:document:passport", "operator:op-1:document:passport"},
		b: {"reviewer:rev-1:document:passport", "auditor:aud-1:document:passport", "reviewer:rev-1:queue", "operator:op-1:document:passport"},
	}
	for _, id := range []string{a, b} {
		got := describe(g.accessLog(id))
		if fmt.Sprint(got) != fmt.Sprint(want[id]) {
			t.Errorf("access log of %s:\n got %v\nwant %v", id, got, want[id])
		}
	}
	log := g.accessLog(a)
	var last uint64
	for i, e := range log {
		if e.ApplicationID != a || e.EventID == "" || e.CorrelationID == "" || e.Route != "GET /test" || e.AccessedAt.IsZero() || e.Position <= last {
			t.Errorf("entry %d: %+v", i, e)
		}
		last = e.Position
	}
	live := g.snapshot()

	// Replay everything over what is built.
	g.stop()
	cp, err := g.store.LoadCheckpoint(context.Background(), "history")
	if err != nil {
		t.Fatal(err)
	}
	cp.Position = 0
	if err := g.store.Flush(context.Background(), nil, cp); err != nil {
		t.Fatal(err)
	}
	g.start()
	g.catchUp()
	if diff := compare(live, g.snapshot()); diff != "" {
		t.Errorf("after a replay of every event: %s", diff)
	}

	// And from scratch.
	if _, err := g.runner.Rebuild(context.Background(), "history", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if diff := compare(live, g.snapshot()); diff != "" {
		t.Errorf("after a rebuild: %s", diff)
	}
	t.Logf("%d documents, equal after a replay and a rebuild", len(live))
}

func compare(want, got map[string]string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d documents, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Sprintf("%s:\n got %s\nwant %s", k, got[k], v)
		}
	}
	return ""
}

// The submission's entry records what the application was created with:
// every field an add, with no "from" (there was no application before),
// while a later event's entry replaces what it changed.
func TestFirstEntryAddsWhatTheApplicationStartedWith(t *testing.T) {
	g := newRig(t)
	g.start()
	appID := uuid.NewString()
	applicant := events.Actor{ID: "alice", Role: events.RoleApplicant}
	g.append(schema.ApplicationStream(appID), applicant, submitted(appID, "alice", uuid.NewString()))
	g.append(schema.ApplicationStream(appID), events.Actor{ID: "rev-1", Role: events.RoleReviewer},
		schema.ApplicationClaimed{ApplicationID: appID, ReviewerID: "rev-1", ClaimedAt: g.at})
	g.catchUp()
	docs, err := g.store.List(context.Background(), readstore.ListQuery{Collection: history.Entries, Prefix: appID + "/"})
	if err != nil || len(docs) != 2 {
		t.Fatalf("%d entries, %v", len(docs), err)
	}
	var first, second history.Entry
	if err := json.Unmarshal(docs[0].Body, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(docs[1].Body, &second); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, c := range first.Diff {
		paths[c.Path] = true
		if c.Op != "add" || c.From != nil {
			t.Errorf("submission entry: %+v is not an add", c)
		}
	}
	for _, p := range []string{"/status", "/submittedAt", "/form/applicant/lastName", "/form/documents"} {
		if !paths[p] {
			t.Errorf("submission entry lacks %s: %+v", p, first.Diff)
		}
	}
	var status *appview.Change
	for i, c := range second.Diff {
		if c.Path == "/status" {
			status = &second.Diff[i]
		}
	}
	if status == nil || status.Op != "replace" || status.From != "submitted" || status.To != "in_review" {
		t.Fatalf("claim entry: status change %+v in %+v", status, second.Diff)
	}
}
