package sweeper_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/sweeper"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

// outage is the history projection while its read store is down longer
// than the runner's retries: a submission's event fails every retry, is
// parked, and the projection goes on past it.
type outage struct {
	history.Projection
	down atomic.Bool
}

func (o *outage) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if o.down.Load() && ev.Envelope.Type == schema.TypeApplicationSubmitted {
		return errors.New("the read store did not answer")
	}
	return o.Projection.Apply(ctx, tx, ev)
}

// TestAParkedSubmissionStopsTheSweep runs the real history projection
// and runner: an application whose event the projection parked is absent
// from the scan index, and its scan looks unattached. The sweep must not
// take that for the truth (QA: the scan was deleted); once the event is
// replayed, the scan is found attached and stays.
func TestAParkedSubmissionStopsTheSweep(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	es, st, clk, docs := f.events, f.blobs, f.clk, f.docs
	proj := &outage{}
	r := runnertest.Start(t, es, st, runner.Options{Retries: 1}, proj)

	alice := events.Metadata{Actor: events.Actor{ID: "alice", Role: events.RoleApplicant}}
	sc, err := docs.Upload(ctx, alice, schema.DocumentPassport, strings.NewReader("%PDF-1.7\n% alice\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * 24 * time.Hour)
	proj.down.Store(true)
	app := uuid.NewString()
	typ, v, data, err := schema.Encode(schema.ApplicationSubmitted{ApplicationID: app, ApplicantID: "alice", SubmittedAt: clk.Now(),
		Form: schema.Form{Documents: []schema.DocumentRef{sc.Ref()}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Append(ctx, schema.ApplicationStream(app), eventstore.NoStream, alice, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := r.WaitFor(wctx, "history", res.Position); err != nil {
		t.Fatal(err)
	}
	proj.down.Store(false)
	if attached, err := history.Attached(ctx, st, sc.DocumentID); err != nil || attached {
		t.Fatalf("the index already has the scan (%v, %v): the test tests nothing", attached, err)
	}

	sw, err := sweeper.New(sweeper.Options{Store: es, DeleteBlob: st.DeleteBlob, Now: clk.Now, Index: "history",
		Attached:    func(ctx context.Context, id string) (bool, error) { return history.Attached(ctx, st, id) },
		WaitHistory: func(ctx context.Context, pos uint64) error { return r.WaitFor(ctx, "history", pos) },
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*24*time.Hour + time.Minute)
	for range 2 {
		got, err := sw.Sweep(ctx)
		if !errors.Is(err, sweeper.ErrIndexIncomplete) || got != (sweeper.Result{}) {
			t.Fatalf("a sweep with the submission parked: %+v, %v; want nothing done and ErrIndexIncomplete", got, err)
		}
		clk.Advance(sweeper.DefaultGrace)
	}
	if _, ok, err := docs.Lookup(ctx, sc.DocumentID); err != nil || !ok {
		t.Fatalf("the scan is no longer usable: %v %v", ok, err)
	}

	// Replayed, the submission is in the index: the sweeps find the scan
	// attached and leave it be.
	if n, err := r.ReplayParked(ctx, "history"); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	for range 2 {
		got, err := sw.Sweep(ctx)
		if err != nil || got != (sweeper.Result{}) {
			t.Fatalf("a sweep after the replay: %+v %v", got, err)
		}
		clk.Advance(sweeper.DefaultGrace)
	}
	rc, _, err := st.OpenBlob(ctx, sc.SHA256)
	if err != nil {
		t.Fatalf("the scan of application %s is gone: %v", app, err)
	}
	rc.Close()
}
