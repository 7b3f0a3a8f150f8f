package visits_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/visits"
)

type fixture struct {
	t   *testing.T
	now time.Time
	es  *eventstore.Store
	st  *sqlitestore.Store
	r   *runner.Runner
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	f.es = esdbtest.Store(t, eventstore.Options{Now: func() time.Time { return f.now }})
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	// The cabinet projection keeps the index, as omsd runs it.
	f.r, err = runner.New(ctx, runner.Options{Store: st, Events: f.es, Subscriber: eventstore.NewSubscriber(f.es, eventstore.SubscriberOptions{})},
		cabinet.Projection{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// append records e on applicant's visit stream after minutes more.
func (f *fixture) append(minutes int, applicant string, e schema.Event) {
	f.t.Helper()
	f.now = f.now.Add(time.Duration(minutes) * time.Minute)
	typ, v, data, err := schema.Encode(e)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.es.Append(context.Background(), schema.VisitStream(applicant), eventstore.Any, events.Metadata{Actor: events.Actor{ID: "x", Role: "system"}},
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) opened(minutes int, operator, applicant string) {
	f.t.Helper()
	f.now = f.now.Add(time.Duration(minutes) * time.Minute)
	f.append(0, applicant, schema.VisitOpened{OperatorID: operator, OpenedAt: f.now, Until: f.now.Add(4 * time.Hour)})
}

// open rebuilds the index and returns operator's visits open at f.now, by
// applicant.
func (f *fixture) open(operator string) []string {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.r.Rebuild(ctx, "cabinet", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		f.t.Fatal(err)
	}
	d, err := f.st.Get(ctx, visits.Collection, operator)
	if errors.Is(err, readstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var doc visits.Doc
	if err := json.Unmarshal(d.Body, &doc); err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, v := range doc.Open(f.now) {
		out = append(out, v.ApplicantID)
	}
	return out
}

func (f *fixture) want(operator string, applicants ...string) {
	f.t.Helper()
	if got := f.open(operator); !slices.Equal(got, applicants) {
		f.t.Errorf("%s's open visits: %q, want %q (latest first)", operator, got, applicants)
	}
}

func TestAnOperatorsOpenVisits(t *testing.T) {
	f := newFixture(t)
	f.opened(0, "op-1", "ann")
	f.opened(5, "op-1", "bob")
	f.opened(5, "op-2", "ann")
	f.want("op-1", "bob", "ann")
	f.want("op-2", "ann")

	// One operator ends theirs: the other's visit with ann stays.
	f.append(1, "ann", schema.VisitClosed{OperatorID: "op-1", ClosedAt: f.now})
	f.want("op-1", "bob")
	f.want("op-2", "ann")

	// ann ends every operator's access.
	f.append(1, "ann", schema.VisitClosed{ClosedAt: f.now})
	f.want("op-2")
	f.want("op-1", "bob")

	// A visit opened again moves to the top, once.
	f.opened(1, "op-1", "ann")
	f.opened(1, "op-1", "bob")
	f.want("op-1", "bob", "ann")

	// A visit past its end is no longer listed, and the next event the
	// operator's document gets drops it.
	f.now = f.now.Add(4*time.Hour + time.Minute)
	f.want("op-1")
	f.opened(0, "op-1", "cat")
	d, err := f.st.Get(context.Background(), visits.Collection, "op-1")
	if err != nil {
		t.Fatal(err)
	}
	var doc visits.Doc
	if err := json.Unmarshal(d.Body, &doc); err != nil {
		t.Fatal(err)
	}
	f.want("op-1", "cat")
	if len(doc.Visits) != 2 { // read before the rebuild that added cat
		t.Errorf("before cat: %d visits kept, want the 2 ended ones", len(doc.Visits))
	}
	if d, err = f.st.Get(context.Background(), visits.Collection, "op-1"); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(d.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Visits) != 1 || doc.Visits[0].ApplicantID != "cat" {
		t.Errorf("after cat: %+v, want only cat's: the ended ones are dropped", doc.Visits)
	}
}

// A close of every visit by an applicant who never had one leaves the
// operators' lists as they were, and an applicant's code given or refused
// changes no list.
func TestOnlyOpensAndClosesCount(t *testing.T) {
	f := newFixture(t)
	f.append(0, "ann", schema.VisitCodeIssued{CodeDigest: "d", IssuedAt: f.now, ExpiresAt: f.now.Add(15 * time.Minute)})
	f.append(1, "ann", schema.VisitCodeRefused{OperatorID: "op-1", RefusedAt: f.now})
	f.want("op-1")
	f.opened(1, "op-1", "ann")
	f.append(1, "bob", schema.VisitClosed{ClosedAt: f.now})
	f.want("op-1", "ann")
}
