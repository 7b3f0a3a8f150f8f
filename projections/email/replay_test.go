package email_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
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
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

// A notice whose event the cabinet or the history parked is mailed once
// the parked event is replayed, and letters behind it are not held up
// meanwhile (review, session 23): the mailer skipped the notice it did
// not find in the inbox for good, and retried an application the history
// did not have, without end, mailing nobody behind it.
// mailRig runs the cabinet and the history, each able to park a stream's
// events, and the mailer behind them, on a live event store.
type mailRig struct {
	t         *testing.T
	es        *eventstore.Store
	r         *runner.Runner
	st        readstore.Store
	srv       *smtptest.Server
	cab, hist *runnertest.Failing
}

// newMailRig starts the rig; opts, if any, change the mailer's options.
func newMailRig(t *testing.T, opts ...func(*email.Options)) *mailRig {
	g := &mailRig{t: t, es: esdbtest.Store(t, eventstore.Options{}),
		cab: &runnertest.Failing{Projection: cabinet.Projection{}}, hist: &runnertest.Failing{Projection: history.Projection{}}}
	g.r, g.st = runnertest.Parking(t, g.es, g.cab, g.hist)
	g.srv = smtptest.Start(t)
	smtp, err := email.ParseURL("smtp://" + g.srv.Addr + "?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	o := email.Options{Events: g.es, Store: g.st, Waiter: g.r, Sender: smtp, From: "ОМС <noreply@oms.example>",
		Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	m, err := email.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mctx, mstop := context.WithCancel(context.Background())
	t.Cleanup(func() { mstop(); m.Close() })
	go m.Run(mctx)
	<-m.Running()
	return g
}

// record appends e to stream as actor and waits until both projections
// have applied or parked it.
func (g *mailRig) record(stream, actor string, e schema.Event) uint64 {
	g.t.Helper()
	ctx := context.Background()
	typ, v, data, err := schema.Encode(e)
	if err != nil {
		g.t.Fatal(err)
	}
	res, err := g.es.Append(ctx, stream, eventstore.Any, events.Metadata{Actor: events.Actor{ID: actor, Role: events.RoleApplicant}},
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	if err != nil {
		g.t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, p := range []string{"cabinet", "history"} {
		if err := g.r.WaitFor(wctx, p, res.Position); err != nil {
			g.t.Fatalf("%s did not pass %d: %v", p, res.Position, err)
		}
	}
	return res.Position
}

// submit records applicant's application id, with the address
// <email>@example.org.
func (g *mailRig) submit(applicant, id, email string) uint64 {
	g.t.Helper()
	return g.record(schema.ApplicationStream(id), applicant, schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: applicant, SubmittedAt: time.Now(),
		Form: schema.Form{Contacts: schema.Contacts{Email: email + "@example.org"}}})
}

// parkedThenReplayed submits an application of applicant's (address
// <applicant>@example.org) while the cabinet parks its events, checks that
// nothing is mailed meanwhile, and replays it.
func (g *mailRig) parkedThenReplayed(applicant string) {
	g.t.Helper()
	id := uuid.NewString()
	g.cab.Fail(schema.ApplicationStream(id))
	at := g.submit(applicant, id, applicant)
	g.cab.Fail()
	if got := g.mailed(at); len(got) != 0 {
		g.t.Fatalf("with %s's submission parked, mailed %v", applicant, got)
	}
	if n, err := g.r.ReplayParked(context.Background(), "cabinet"); err != nil || n != 1 {
		g.t.Fatalf("replay: %d %v, want 1", n, err)
	}
}

// mailed waits until the mailer has passed pos and returns who got
// letters so far.
func (g *mailRig) mailed(pos uint64) []string {
	g.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cp, err := g.st.LoadCheckpoint(context.Background(), "mailer")
		if err != nil && !errors.Is(err, readstore.ErrNotFound) {
			g.t.Fatal(err)
		}
		if cp.Position >= pos {
			break
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("the mailer stopped at %d, before %d; mailed %v", cp.Position, pos, recipients(g.srv))
		}
	}
	return recipients(g.srv)
}

func TestNoticesOfParkedEventsAreMailedAfterTheReplay(t *testing.T) {
	ctx := context.Background()
	g := newMailRig(t)
	cab, hist, r, es, srv := g.cab, g.hist, g.r, g.es, g.srv

	// alice's submission is parked by the cabinet, carol's by the
	// history; bob's goes through.
	alice, carol := uuid.NewString(), uuid.NewString()
	cab.Fail(schema.ApplicationStream(alice))
	hist.Fail(schema.ApplicationStream(carol))
	g.submit("alice", alice, "alice")
	g.submit("carol", carol, "carol")
	cab.Fail()
	hist.Fail()
	bobAt := g.submit("bob", uuid.NewString(), "bob")
	if got := g.mailed(bobAt); !slices.Equal(got, []string{"bob@example.org"}) {
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
	if got := g.mailed(lastMarker); !slices.Equal(got, want) {
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

// A visit's letter goes to the address of the person's newest application
// the history has: the newest one parked there has none yet, and its
// replay brings back its own event, not the visit's.
func TestAVisitIsMailedPastAnApplicationTheHistoryParked(t *testing.T) {
	g := newMailRig(t)
	g.submit("dan", uuid.NewString(), "dan-old")
	newest := uuid.NewString()
	g.hist.Fail(schema.ApplicationStream(newest))
	g.submit("dan", newest, "dan-new")
	g.hist.Fail()
	now := time.Now()
	at := g.record(schema.VisitStream("dan"), "dan", schema.VisitOpened{OperatorID: "op-1", OpenedAt: now, Until: now.Add(time.Hour)})
	// The old application's letter, then the visit's to the same address.
	if got, want := g.mailed(at), []string{"dan-old@example.org", "dan-old@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("mailed %v, want %v", got, want)
	}
}

// A notice brought back more than MaxReplayAge after its event is not
// mailed: the application has moved on by then.
func TestANoticeReplayedTooLateIsNotMailed(t *testing.T) {
	late := time.Now().Add(8 * 24 * time.Hour)
	g := newMailRig(t, func(o *email.Options) {
		o.Now = func() time.Time { return late }
		o.MaxAge = 30 * 24 * time.Hour // the events themselves are news
	})
	g.parkedThenReplayed("eve")
	at := g.submit("fay", uuid.NewString(), "fay")
	if got, want := g.mailed(at), []string{"fay@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("mailed %v, want %v", got, want)
	}
}

// failingOnce fails the first send to each address in fail, as a server
// that says "try again later" does, then sends.
type failingOnce struct {
	email.Sender
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingOnce) Send(ctx context.Context, from, to string, msg []byte) error {
	f.mu.Lock()
	fail := f.fail[to]
	delete(f.fail, to)
	f.mu.Unlock()
	if fail {
		return errors.New("421 try again later")
	}
	return f.Sender.Send(ctx, from, to, msg)
}

// A replayed notice whose first send fails is sent on the retry, as a
// live one is: the mailer forgot the parked message before sending, and
// the retry found nothing to send (review).
func TestAReplayedNoticeSurvivesATransientSendFailure(t *testing.T) {
	g := newMailRig(t, func(o *email.Options) {
		o.Sender = &failingOnce{Sender: o.Sender, fail: map[string]bool{"alice@example.org": true, "bob@example.org": true}}
	})
	g.parkedThenReplayed("alice")
	bobAt := g.submit("bob", uuid.NewString(), "bob")
	if got, want := g.mailed(bobAt), []string{"alice@example.org", "bob@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("mailed %v, want %v", got, want)
	}
}
