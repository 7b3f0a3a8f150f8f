package email_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/email"
	"github.com/omsonline/oms/projections/email/smtptest"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

// A notice whose event the cabinet or the history parked is mailed once
// the parked event is replayed, and letters behind it are not held up
// meanwhile (review, session 23): the mailer skipped the notice it did
// not find in the inbox for good, and retried an application the history
// did not have, without end, mailing nobody behind it.
func TestNoticesOfParkedEventsAreMailedAfterTheReplay(t *testing.T) {
	ctx := context.Background()
	es := esdbtest.Store(t, eventstore.Options{})
	cab := &runnertest.Failing{Projection: cabinet.Projection{}}
	hist := &runnertest.Failing{Projection: history.Projection{}}
	r, st := runnertest.Parking(t, es, cab, hist)

	srv := smtptest.Start(t)
	smtp, err := email.ParseURL("smtp://" + srv.Addr + "?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	m, err := email.New(email.Options{Events: es, Store: st, Waiter: r, Sender: smtp, From: "ОМС <noreply@oms.example>",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mstop := context.WithCancel(ctx)
	t.Cleanup(func() { mstop(); m.Close() })
	go m.Run(mctx)
	<-m.Running()

	submit := func(applicant, id string) uint64 {
		t.Helper()
		typ, v, data, err := schema.Encode(schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: applicant, SubmittedAt: time.Now(),
			Form: schema.Form{Contacts: schema.Contacts{Email: applicant + "@example.org"}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := es.Append(ctx, schema.ApplicationStream(id), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: applicant, Role: events.RoleApplicant}},
			eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, p := range []string{"cabinet", "history"} {
			if err := r.WaitFor(wctx, p, res.Position); err != nil {
				t.Fatalf("%s did not pass %d: %v", p, res.Position, err)
			}
		}
		return res.Position
	}
	// mailed waits until the mailer has passed pos and returns who got
	// letters so far.
	mailed := func(pos uint64) []string {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			cp, err := st.LoadCheckpoint(ctx, "mailer")
			if err != nil && !errors.Is(err, readstore.ErrNotFound) {
				t.Fatal(err)
			}
			if cp.Position >= pos {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the mailer stopped at %d, before %d; mailed %v", cp.Position, pos, recipients(srv))
			}
		}
		return recipients(srv)
	}

	// alice's submission is parked by the cabinet, carol's by the
	// history; bob's goes through.
	alice, carol := uuid.NewString(), uuid.NewString()
	cab.Fail(schema.ApplicationStream(alice))
	hist.Fail(schema.ApplicationStream(carol))
	submit("alice", alice)
	submit("carol", carol)
	cab.Fail()
	hist.Fail()
	bobAt := submit("bob", uuid.NewString())
	if got := mailed(bobAt); !slices.Equal(got, []string{"bob@example.org"}) {
		t.Fatalf("with alice's and carol's submissions parked, mailed %v, want bob only", got)
	}

	for _, p := range []string{"cabinet", "history"} {
		if n, err := r.ReplayParked(ctx, p); err != nil || n != 1 {
			t.Fatalf("replay of %s: %d %v, want 1", p, n, err)
		}
	}
	// The mailer's own ledger may be ahead of the last marker: that is
	// the last event it follows.
	parked, err := es.Load(ctx, eventstore.ParkedStream)
	if err != nil || len(parked) == 0 {
		t.Fatalf("parked stream: %d events, %v", len(parked), err)
	}
	lastMarker := parked[len(parked)-1].Position
	want := []string{"alice@example.org", "bob@example.org", "carol@example.org"}
	for deadline := time.Now().Add(15 * time.Second); len(recipients(srv)) < len(want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := mailed(lastMarker); !slices.Equal(got, want) {
		t.Fatalf("after the replays, mailed %v, want %v", got, want)
	}
}

func recipients(srv *smtptest.Server) []string {
	var out []string
	for _, m := range srv.Messages() {
		out = append(out, m.To...)
	}
	slices.Sort(out)
	return out
}
