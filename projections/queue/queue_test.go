package queue_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/readstore/storetest"
	"github.com/omsonline/oms/projections/runner"
)

var msk = time.FixedZone("MSK", 3*3600)

// stepper runs the queue projection over one application whose events
// the returned step appends at the times given, and returns the store it
// writes with the step.
func stepper(t *testing.T) (*sqlitestore.Store, *steps) {
	t.Helper()
	s := &steps{t: t, appID: uuid.NewString()}
	s.es = esdbtest.Store(t, eventstore.Options{Now: func() time.Time { return s.now }})
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.st = st
	s.r, err = runner.New(ctx, runner.Options{Store: st, Events: s.es, Subscriber: eventstore.NewSubscriber(s.es, eventstore.SubscriberOptions{})},
		queue.Projection{Calendar: calendar.Default(), SLADays: 10})
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

type steps struct {
	t     *testing.T
	appID string
	now   time.Time
	es    *eventstore.Store
	st    *sqlitestore.Store
	r     *runner.Runner
}

// step appends e at at, rebuilds the queue and returns the application's
// item (zero once it has left the queue).
func (s *steps) step(at time.Time, e schema.Event) queue.Item {
	t := s.t
	t.Helper()
	ctx := context.Background()
	s.now = at
	typ, v, data, err := schema.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.es.Append(ctx, schema.ApplicationStream(s.appID), eventstore.Any, events.Metadata{Actor: events.Actor{ID: "x", Role: "system"}},
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.r.Rebuild(ctx, "queue", runner.RebuildOptions{DropDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	d, err := s.st.Get(ctx, queue.Collection, s.appID)
	if err != nil {
		return queue.Item{}
	}
	var it queue.Item
	if err := json.Unmarshal(d.Body, &it); err != nil {
		t.Fatal(err)
	}
	// The index sorts by the deadline, except that an application waiting
	// on its applicant comes after every running deadline.
	want := it.Deadline
	if it.Waiting {
		want = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, it.RemainingDays)
	}
	if d.Queue == nil || !d.Queue.Deadline.Equal(want) || d.Queue.Waiting != it.Stopped || d.Queue.Status != it.Status {
		t.Fatalf("indexed fields %+v disagree with the document %+v", d.Queue, it)
	}
	return it
}

// The SLA clock counts working days by the production calendar, stops
// while the application waits on the applicant and restarts with what was
// left. Dates checked by hand against the 2026 decree (9 March is a day
// off in place of Sunday 8 March).
func TestDeadlinePausesWhileWaiting(t *testing.T) {
	ctx := context.Background()
	st, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
	it := step.step(time.Date(2026, 3, 2, 10, 0, 0, 0, msk), j[0]) // Monday
	if it.DeadlineDate != "2026-03-17" || it.Waiting {
		t.Fatalf("submitted Mon 2 March: deadline %s, want 2026-03-17", it.DeadlineDate)
	}
	now2 := time.Date(2026, 3, 16, 12, 0, 0, 0, msk)
	if got := queue.Remaining(calendar.Default(), it, now2); got != 1 {
		t.Fatalf("on 16 March %d working days remain, want 1", got)
	}
	step.step(time.Date(2026, 3, 3, 9, 0, 0, 0, msk), j[1])
	it = step.step(time.Date(2026, 3, 5, 15, 0, 0, 0, msk), j[2]) // info requested Thursday 5 March
	if !it.Waiting || it.RemainingDays != 7 {
		t.Fatalf("paused on 5 March: waiting=%v remaining=%d, want 7 (6,10,11,12,13,16,17)", it.Waiting, it.RemainingDays)
	}
	if queue.Overdue(it, time.Date(2026, 4, 30, 0, 0, 0, 0, msk)) {
		t.Fatal("a waiting application is never overdue")
	}
	// While it waits, the deadline shown is the one an answer now would
	// give: the same day at the pause, a week later a week on, and the
	// very day the answer below then does give.
	for at, want := range map[time.Time]string{
		time.Date(2026, 3, 5, 15, 0, 0, 0, msk):  "2026-03-17",
		time.Date(2026, 3, 12, 11, 0, 0, 0, msk): "2026-03-23",
	} {
		if got, _ := queue.DeadlineAt(calendar.Default(), it, at); got != want {
			t.Errorf("waiting, the deadline shown on %s: %s, want %s", at.Format(time.DateOnly), got, want)
		}
	}
	it = step.step(time.Date(2026, 3, 12, 11, 0, 0, 0, msk), j[3]) // answered Thursday 12 March
	if it.Waiting || it.DeadlineDate != "2026-03-23" {
		t.Fatalf("resumed on 12 March with 7 left: deadline %s, want 2026-03-23", it.DeadlineDate)
	}
	if !queue.Overdue(it, time.Date(2026, 3, 24, 0, 0, 1, 0, msk)) || queue.Overdue(it, time.Date(2026, 3, 23, 23, 0, 0, 0, msk)) {
		t.Fatal("overdue from the end of the deadline day")
	}
	page, err := st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Overdue: ptr(true), Now: time.Date(2026, 3, 24, 9, 0, 0, 0, msk), Limit: 10})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("overdue filter: %v %d", err, len(page.Docs))
	}
	step.step(time.Date(2026, 3, 13, 11, 0, 0, 0, msk), j[4])
	if it := step.step(time.Date(2026, 3, 13, 12, 0, 0, 0, msk), j[5]); it.ApplicationID != "" {
		t.Fatalf("an insured application stays in the queue: %+v", it)
	}
}

func ptr[T any](v T) *T { return &v }

// An application already late when the reviewer asks for information
// stays late: the clock stops at the working days it is overdue by and
// restarts from there, rather than from none left, which made the answer
// day its new deadline and took it out of the overdue list.
func TestOverdueStaysOverdueAcrossAPause(t *testing.T) {
	ctx := context.Background()
	st, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
	step.step(time.Date(2026, 3, 2, 10, 0, 0, 0, msk), j[0]) // deadline 17 March
	step.step(time.Date(2026, 3, 3, 9, 0, 0, 0, msk), j[1])
	it := step.step(time.Date(2026, 3, 20, 15, 0, 0, 0, msk), j[2]) // asked Friday 20 March, 3 working days late
	if !it.Waiting || it.RemainingDays != -3 {
		t.Fatalf("paused on 20 March: waiting=%v remaining=%d, want -3 (18, 19, 20 March)", it.Waiting, it.RemainingDays)
	}
	if got := queue.Remaining(calendar.Default(), it, time.Date(2026, 3, 24, 9, 0, 0, 0, msk)); got != -3 {
		t.Fatalf("while paused %d working days remain, want -3", got)
	}
	it = step.step(time.Date(2026, 3, 25, 11, 0, 0, 0, msk), j[3]) // answered Wednesday 25 March
	if it.DeadlineDate != "2026-03-20" {
		t.Fatalf("resumed on 25 March 3 days late: deadline %s, want 2026-03-20", it.DeadlineDate)
	}
	at := time.Date(2026, 3, 25, 12, 0, 0, 0, msk)
	if !queue.Overdue(it, at) || queue.Remaining(calendar.Default(), it, at) != -3 {
		t.Fatalf("on 25 March: overdue %v, remaining %d, want overdue by 3", queue.Overdue(it, at), queue.Remaining(calendar.Default(), it, at))
	}
	page, err := st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Overdue: ptr(true), Now: at, Limit: 10})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("overdue filter: %v %d", err, len(page.Docs))
	}
}

// Late and asked on a day off after the deadline (Saturday after a
// Friday's): still late after the answer. No working day lies between the
// two, and the pause kept 0, which made the answer's day a fresh
// deadline (time QA).
func TestLateOnAWeekendStaysLate(t *testing.T) {
	_, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, time.Date(2026, 3, 5, 10, 0, 0, 0, msk))
	step.step(time.Date(2026, 3, 5, 10, 0, 0, 0, msk), j[0]) // deadline Friday 20 March
	step.step(time.Date(2026, 3, 6, 9, 0, 0, 0, msk), j[1])
	it := step.step(time.Date(2026, 3, 21, 11, 0, 0, 0, msk), j[2]) // asked Saturday 21 March
	if it.RemainingDays >= 0 {
		t.Fatalf("paused late on a Saturday with %d working days left", it.RemainingDays)
	}
	it = step.step(time.Date(2026, 3, 25, 11, 0, 0, 0, msk), j[3]) // answered Wednesday 25 March
	at := time.Date(2026, 3, 25, 12, 0, 0, 0, msk)
	if !queue.Overdue(it, at) || queue.Remaining(calendar.Default(), it, at) >= 0 {
		t.Fatalf("after the answer: deadline %s, overdue %v, remaining %d", it.DeadlineDate, queue.Overdue(it, at), queue.Remaining(calendar.Default(), it, at))
	}
}

// A submission builds its queue item without asking the store, which
// cannot hold it before the application's first event, but only where the
// store flushes atomically: on MongoDB a crash can leave the item ahead of
// the checkpoint, and the replayed submission must find it.
func TestSubmissionDoesNotLookItsItemUp(t *testing.T) {
	storetest.BothFlushes(t, 0, 1, func(t *testing.T, hidden bool, wantReads int64) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		es := esdbtest.Store(t, eventstore.Options{})
		st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		counter := &storetest.Reads{Store: st, Prefix: queue.Collection + "_g", Hidden: hidden}
		sub := eventstore.NewSubscriber(es, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(st)})
		r, err := runner.New(ctx, runner.Options{Store: counter, Events: es, Subscriber: sub, FlushInterval: time.Millisecond},
			queue.Projection{Calendar: calendar.Default(), SLADays: 10})
		if err != nil {
			t.Fatal(err)
		}
		go r.Run(ctx)
		<-r.Running()
		defer r.Close()
		appID := uuid.NewString()
		j := benchload.Journey(appID, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
		typ, v, data, err := schema.Encode(j[0])
		if err != nil {
			t.Fatal(err)
		}
		res, err := es.Append(ctx, schema.ApplicationStream(appID), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: "alice", Role: events.RoleApplicant}},
			eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := r.WaitFor(wctx, "queue", res.Position); err != nil {
			t.Fatal(err)
		}
		if got := counter.Count(); got != wantReads {
			t.Fatalf("%d store reads of queue items, want %d", got, wantReads)
		}
		d, err := st.Get(ctx, queue.Collection, appID)
		if err != nil {
			t.Fatal(err)
		}
		var it queue.Item
		if err := json.Unmarshal(d.Body, &it); err != nil {
			t.Fatal(err)
		}
		if it.Status != "submitted" || it.DeadlineDate != "2026-03-17" || it.ApplicantID != "alice" {
			t.Fatalf("item %+v, want submitted by alice with deadline 2026-03-17", it)
		}
	})
}

// Approval ends the review term: the seed's 5-10 working days run until
// «Одобрено», so an approved application waiting for its policy is not
// overdue however long the issue takes, and a decision reopened by a
// request for information restarts with what approval left.
func TestApprovalStopsTheClock(t *testing.T) {
	ctx := context.Background()
	st, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
	step.step(time.Date(2026, 3, 2, 10, 0, 0, 0, msk), j[0]) // deadline Tuesday 17 March
	step.step(time.Date(2026, 3, 3, 9, 0, 0, 0, msk), j[1])
	it := step.step(time.Date(2026, 3, 12, 11, 0, 0, 0, msk), j[4]) // approved Thursday 12 March
	if !it.Stopped || it.Waiting || it.RemainingDays != 3 {
		t.Fatalf("approved on 12 March: stopped=%v waiting=%v remaining=%d, want stopped with 3 (13,16,17) and not waiting on the applicant", it.Stopped, it.Waiting, it.RemainingDays)
	}
	late := time.Date(2026, 4, 20, 12, 0, 0, 0, msk)
	if queue.Overdue(it, late) || queue.Remaining(calendar.Default(), it, late) != 3 {
		t.Fatalf("approved, a month on: overdue %v, remaining %d", queue.Overdue(it, late), queue.Remaining(calendar.Default(), it, late))
	}
	page, err := st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Overdue: ptr(true), Now: late, Limit: 10})
	if err != nil || len(page.Docs) != 0 {
		t.Fatalf("overdue filter lists an approved application: %v %d", err, len(page.Docs))
	}
	page, err = st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Overdue: ptr(false), Now: late, Limit: 10})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("not-overdue filter: %v %d", err, len(page.Docs))
	}
	// Reopened on 20 April, answered on 22 April: three working days from
	// the answer, 23, 24 and 27 April.
	it = step.step(time.Date(2026, 4, 20, 12, 0, 0, 0, msk), j[2])
	if !it.Waiting || it.RemainingDays != 3 {
		t.Fatalf("reopened: waiting=%v remaining=%d, want 3", it.Waiting, it.RemainingDays)
	}
	it = step.step(time.Date(2026, 4, 22, 12, 0, 0, 0, msk), j[3])
	if it.Stopped || it.DeadlineDate != "2026-04-27" {
		t.Fatalf("answered on 22 April: stopped=%v deadline %s, want 2026-04-27", it.Stopped, it.DeadlineDate)
	}
}

// Approved after the deadline: the lateness stays on record as a negative
// count, but nothing is overdue any more.
func TestApprovedLateIsNotOverdue(t *testing.T) {
	_, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
	step.step(time.Date(2026, 3, 2, 10, 0, 0, 0, msk), j[0]) // deadline 17 March
	step.step(time.Date(2026, 3, 3, 9, 0, 0, 0, msk), j[1])
	it := step.step(time.Date(2026, 3, 20, 11, 0, 0, 0, msk), j[4]) // approved Friday 20 March
	at := time.Date(2026, 3, 25, 12, 0, 0, 0, msk)
	if it.RemainingDays >= 0 || queue.Overdue(it, at) || queue.Remaining(calendar.Default(), it, at) != it.RemainingDays {
		t.Fatalf("approved 3 days late: remaining %d, overdue %v", it.RemainingDays, queue.Overdue(it, at))
	}
}

// Overdue over days off: late since a Friday's deadline, the Saturday
// after counts one day late, not 0 left; over the New Year holidays too.
func TestLateOverDaysOffCountsLate(t *testing.T) {
	cal := calendar.Default()
	for _, tc := range []struct{ deadline, now time.Time }{
		{time.Date(2026, 12, 4, 23, 59, 59, 0, msk), time.Date(2026, 12, 5, 12, 0, 0, 0, msk)},
		{time.Date(2026, 12, 30, 23, 59, 59, 0, msk), time.Date(2027, 1, 5, 12, 0, 0, 0, msk)},
	} {
		it := queue.Item{Deadline: tc.deadline}
		if got := queue.Remaining(cal, it, tc.now); got >= 0 || !queue.Overdue(it, tc.now) {
			t.Errorf("deadline %s, on %s: %d left, overdue %v; want late", tc.deadline.Format(time.DateOnly), tc.now.Format(time.DateOnly), got, queue.Overdue(it, tc.now))
		}
		before := tc.deadline.Add(-time.Hour)
		if got := queue.Remaining(cal, it, before); got != 0 || queue.Overdue(it, before) {
			t.Errorf("on the deadline day: %d left, overdue %v; want 0 and not overdue", got, queue.Overdue(it, before))
		}
	}
}

// askedAndAnswered takes an application submitted at submitted (its
// deadline must be deadline) through a claim an hour later, a question at
// asked and the answer at answered, and returns its item as paused and as
// restarted.
func askedAndAnswered(t *testing.T, submitted, asked, answered time.Time, deadline string) (paused, restarted queue.Item) {
	t.Helper()
	_, step := stepper(t)
	j := benchload.Journey(step.appID, "alice", 1, submitted)
	if it := step.step(submitted, j[0]); it.DeadlineDate != deadline {
		t.Fatalf("deadline %s, want %s", it.DeadlineDate, deadline)
	}
	step.step(submitted.Add(time.Hour), j[1])
	paused = step.step(asked, j[2])
	return paused, step.step(answered, j[3])
}

// Overdue and answered on a day off: as late on the next working day as if
// the answer had come the working day before. Counted back from the
// Saturday or the holiday itself, the new deadline was a working day later
// and the application a day less late (queue QA).
func TestOverdueAnsweredOnADayOffStaysAsLate(t *testing.T) {
	for _, c := range []struct {
		name                       string
		submitted, asked, answered time.Time
		deadline                   string
		frozen                     int
		atAnswer, nextDay          time.Time
		afterAnswer, onTheNextDay  int
	}{
		// Deadline Tue 17 March; asked Thu 19 March (18, 19 late).
		{name: "answered Friday", submitted: time.Date(2026, 3, 2, 10, 0, 0, 0, msk), asked: time.Date(2026, 3, 19, 10, 0, 0, 0, msk),
			answered: time.Date(2026, 3, 20, 10, 0, 0, 0, msk), deadline: "2026-03-17", frozen: -2,
			atAnswer: time.Date(2026, 3, 20, 11, 0, 0, 0, msk), nextDay: time.Date(2026, 3, 23, 9, 0, 0, 0, msk), afterAnswer: -2, onTheNextDay: -3},
		{name: "answered Saturday", submitted: time.Date(2026, 3, 2, 10, 0, 0, 0, msk), asked: time.Date(2026, 3, 19, 10, 0, 0, 0, msk),
			answered: time.Date(2026, 3, 21, 10, 0, 0, 0, msk), deadline: "2026-03-17", frozen: -2,
			atAnswer: time.Date(2026, 3, 21, 11, 0, 0, 0, msk), nextDay: time.Date(2026, 3, 23, 9, 0, 0, 0, msk), afterAnswer: -2, onTheNextDay: -3},
		// Submitted Mon 16 February: deadline Tue 3 March (23 February
		// is a holiday); asked Thu 5 March (4, 5 late); answered Monday
		// 9 March, a day off in place of Sunday 8 March.
		{name: "answered on a holiday", submitted: time.Date(2026, 2, 16, 10, 0, 0, 0, msk), asked: time.Date(2026, 3, 5, 10, 0, 0, 0, msk),
			answered: time.Date(2026, 3, 9, 10, 0, 0, 0, msk), deadline: "2026-03-03", frozen: -2,
			atAnswer: time.Date(2026, 3, 9, 11, 0, 0, 0, msk), nextDay: time.Date(2026, 3, 10, 9, 0, 0, 0, msk), afterAnswer: -2, onTheNextDay: -3},
	} {
		t.Run(c.name, func(t *testing.T) {
			paused, it := askedAndAnswered(t, c.submitted, c.asked, c.answered, c.deadline)
			if paused.RemainingDays != c.frozen {
				t.Fatalf("asked: frozen at %d, want %d", paused.RemainingDays, c.frozen)
			}
			cal := calendar.Default()
			if got := queue.Remaining(cal, it, c.atAnswer); got != c.afterAnswer {
				t.Errorf("right after the answer %d working days remain, want %d (deadline %s)", got, c.afterAnswer, it.DeadlineDate)
			}
			if got := queue.Remaining(cal, it, c.nextDay); got != c.onTheNextDay {
				t.Errorf("on %s %d working days remain, want %d (deadline %s)", c.nextDay.Format(time.DateOnly), got, c.onTheNextDay, it.DeadlineDate)
			}
		})
	}
}

// A pause stops the clock and never winds it back. Late already, asked and
// answered in one run of days off after the deadline, the application came
// back with a deadline a working day before its own, as if answering
// sooner had made it later (review: the pause kept -1 for "late", and the
// restart counted that day again).
func TestAPauseNeverMovesTheDeadlineEarlier(t *testing.T) {
	for _, c := range []struct {
		name                       string
		submitted, asked, answered time.Time
		deadline                   string
		nextDay                    time.Time
	}{
		// Deadline Fri 20 March; asked Saturday, answered Sunday.
		{name: "a weekend", submitted: time.Date(2026, 3, 5, 10, 0, 0, 0, msk), asked: time.Date(2026, 3, 21, 11, 0, 0, 0, msk),
			answered: time.Date(2026, 3, 22, 11, 0, 0, 0, msk), deadline: "2026-03-20", nextDay: time.Date(2026, 3, 23, 9, 0, 0, 0, msk)},
		// Deadline Tue 30 December 2025; 31 December and 1-11 January
		// are days off.
		{name: "the New Year holidays", submitted: time.Date(2025, 12, 16, 10, 0, 0, 0, msk), asked: time.Date(2026, 1, 3, 11, 0, 0, 0, msk),
			answered: time.Date(2026, 1, 5, 11, 0, 0, 0, msk), deadline: "2025-12-30", nextDay: time.Date(2026, 1, 12, 9, 0, 0, 0, msk)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, it := askedAndAnswered(t, c.submitted, c.asked, c.answered, c.deadline)
			if it.DeadlineDate != c.deadline {
				t.Errorf("after the answer the deadline is %s, want %s as before the pause", it.DeadlineDate, c.deadline)
			}
			if got := queue.Remaining(calendar.Default(), it, c.nextDay); got != -1 {
				t.Errorf("on %s %d working days remain, want -1 as without the pause", c.nextDay.Format(time.DateOnly), got)
			}
		})
	}
}

// The queue sorts by deadline, and an application waiting on its
// applicant has none that stays put: the date an answer would give moves
// on with every working day of waiting. It sorted by the deadline it had
// when the question was asked, ahead of running ones whose dates came
// before the date its row showed (queue QA). It now comes after every
// running application, and its row's deadline agrees with its date.
func TestWaitingApplicationsComeAfterRunningOnes(t *testing.T) {
	ctx := context.Background()
	st, step := stepper(t)
	a, b, c := step.appID, uuid.NewString(), uuid.NewString()
	ja := benchload.Journey(a, "alice", 1, time.Date(2026, 3, 2, 10, 0, 0, 0, msk))
	jb := benchload.Journey(b, "bob", 2, time.Date(2026, 3, 3, 10, 0, 0, 0, msk))
	jc := benchload.Journey(c, "carol", 3, time.Date(2026, 3, 4, 10, 0, 0, 0, msk))
	on := func(id string) { step.appID = id }
	on(a)
	step.step(time.Date(2026, 3, 2, 10, 0, 0, 0, msk), ja[0]) // deadline 17 March
	step.step(time.Date(2026, 3, 2, 11, 0, 0, 0, msk), ja[1])
	on(b)
	step.step(time.Date(2026, 3, 3, 10, 0, 0, 0, msk), jb[0]) // deadline 18 March
	step.step(time.Date(2026, 3, 3, 11, 0, 0, 0, msk), jb[1])
	on(c)
	step.step(time.Date(2026, 3, 4, 10, 0, 0, 0, msk), jc[0]) // deadline 19 March
	step.step(time.Date(2026, 3, 4, 11, 0, 0, 0, msk), jc[1])
	on(a)
	step.step(time.Date(2026, 3, 3, 12, 0, 0, 0, msk), ja[2]) // A asked on 3 March: 9 days left (9 March is off)
	on(c)
	step.step(time.Date(2026, 3, 5, 12, 0, 0, 0, msk), jc[2]) // C asked on 5 March: 9 days left too

	now := time.Date(2026, 3, 16, 12, 0, 0, 0, msk)
	page, err := st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Now: now, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	rows := map[string]queue.Item{}
	for _, d := range page.Docs {
		var it queue.Item
		if err := json.Unmarshal(d.Body, &it); err != nil {
			t.Fatal(err)
		}
		order = append(order, d.ID)
		rows[d.ID] = queue.AsOf(calendar.Default(), it, now)
	}
	// B runs; A and C wait with nine days each, tied, so by id.
	want := []string{b, min(a, c), max(a, c)}
	if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("queue order %v, want B first, then the two waiting ones %v", order, want)
	}
	for id, it := range rows {
		if got := it.Deadline.In(msk).Format(time.DateOnly); got != it.DeadlineDate {
			t.Errorf("%s: deadline %s, date %s: they disagree", id, got, it.DeadlineDate)
		}
	}
	if d := rows[a].DeadlineDate; d != "2026-03-27" {
		t.Errorf("A waiting on 16 March with 9 days left shows %s, want 2026-03-27", d)
	}
	// Answered, A runs again and takes its place by its deadline.
	on(a)
	step.step(time.Date(2026, 3, 16, 12, 0, 0, 0, msk), ja[3])
	page, err = st.Queue(ctx, readstore.QueueQuery{Collection: queue.Collection, Now: now, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Docs) != 3 || page.Docs[0].ID != b || page.Docs[1].ID != a || page.Docs[2].ID != c {
		t.Fatalf("after A's answer: %v %v %v, want B, A (deadline 27 March), C (waiting)", page.Docs[0].ID, page.Docs[1].ID, page.Docs[2].ID)
	}
}
