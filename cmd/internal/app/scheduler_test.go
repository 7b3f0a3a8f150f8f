package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/scheduler"
	"github.com/omsonline/oms/command/service"
)

// scheduled is an issued policy and a scheduler on a clock the test
// moves.
type scheduled struct {
	validTo time.Time
	// tick runs the scheduler once at when, waits for the timetable and
	// reports how many commands it sent.
	tick func(when time.Time) int
	// cabinet reads the applicant's cabinet once it has caught up.
	cabinet func() map[string]any
}

func scheduledPolicy(t *testing.T, passport string) scheduled {
	t.Helper()
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	rev := token(t, cfg, "reviewer", "rev-1")
	r := submit(t, a, alice, passport)
	for _, action := range []string{"claim", "approve", "issue-policy"} {
		if code, body := call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/"+action, rev, ""); code != 200 {
			t.Fatalf("%s: %d %s", action, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	head, _ := a.Events().Head(ctx)
	if err := a.Projections().WaitFor(ctx, "renewals", head); err != nil {
		t.Fatal(err)
	}
	cabinet := func() map[string]any {
		head, _ := a.Events().Head(ctx)
		return cabinetAfter(t, a, alice, head, "")
	}
	validTo, err := time.Parse(time.DateOnly, cabinet()["policy"].(map[string]any)["validTo"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler and the command service share one clock, moved by the
	// test; the app's own service runs on the wall clock.
	var at time.Time
	clock := func() time.Time { return at }
	docs, err := document.New(document.Options{Store: a.Events(), Blobs: a.Store(), Keys: a.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := service.New(service.Options{Store: a.Events(), Documents: docs, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	tick := func(when time.Time) int {
		t.Helper()
		at = when
		n, err := scheduler.New(scheduler.Options{Commands: cmds, Store: a.Store(), Now: clock}).Tick(ctx)
		if err != nil {
			t.Fatalf("tick at %s: %v", at, err)
		}
		head, _ := a.Events().Head(ctx)
		if err := a.Projections().WaitFor(ctx, "renewals", head); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return scheduled{validTo: validTo, tick: tick, cabinet: cabinet}
}

// inboxKinds lists the kinds of a cabinet's notifications, oldest first.
func inboxKinds(doc map[string]any) string {
	var kinds []string
	for _, n := range doc["inbox"].([]any) {
		kinds = append(kinds, n.(map[string]any)["kind"].(string))
	}
	return strings.Join(kinds, ",")
}

// TestSchedulerRemindsThenExpires drives the system actor with a clock
// moved into the renewal window and then past the term.
func TestSchedulerRemindsThenExpires(t *testing.T) {
	s := scheduledPolicy(t, "4440001")
	if n := s.tick(time.Now()); n != 0 {
		t.Fatalf("nothing is due today, but %d commands were sent", n)
	}
	inWindow := s.validTo.AddDate(0, 0, -10)
	if n := s.tick(inWindow); n != 1 {
		t.Fatalf("in the renewal window: %d commands, want the reminder", n)
	}
	if n := s.tick(inWindow); n != 0 {
		t.Fatalf("second tick in the window: %d commands, want none", n)
	}
	if n := s.tick(s.validTo.AddDate(0, 0, 2)); n != 1 {
		t.Fatalf("after the term: %d commands, want the expiry", n)
	}
	doc := s.cabinet()
	if got := inboxKinds(doc); !strings.HasSuffix(got, "PolicyIssued,RenewalDue,PolicyExpired") {
		t.Fatalf("inbox %s", got)
	}
	app0 := doc["applications"].([]any)[0].(map[string]any)
	if app0["status"] != "policy_expired" || !strings.Contains(strings.Join(toStrings(app0["actions"]), ","), "renew") {
		t.Fatalf("after expiry: %v", app0)
	}
}

// A scheduler that first runs after the term has ended (every node was
// down through the renewal window) expires the policy at once: a reminder
// to renew a policy that has already ended would tell the applicant it is
// still valid (time QA).
func TestSchedulerLateSendsNoReminderForAnEndedTerm(t *testing.T) {
	s := scheduledPolicy(t, "4440002")
	if n := s.tick(s.validTo.AddDate(0, 0, 3)); n != 1 {
		t.Fatalf("three days after the term: %d commands, want the expiry alone", n)
	}
	if n := s.tick(s.validTo.AddDate(0, 0, 4)); n != 0 {
		t.Fatalf("the next day: %d commands, want none", n)
	}
	if got := inboxKinds(s.cabinet()); !strings.HasSuffix(got, "PolicyIssued,PolicyExpired") {
		t.Fatalf("inbox %s, want the expiry without a reminder", got)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
