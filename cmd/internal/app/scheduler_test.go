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

// TestSchedulerRemindsThenExpires drives the system actor with a clock
// moved into the renewal window and then past the term.
func TestSchedulerRemindsThenExpires(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	rev := token(t, cfg, "reviewer", "rev-1")
	r := submit(t, a, alice, "4440001")
	for _, action := range []string{"claim", "approve", "issue-policy"} {
		if code, body := call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/"+action, rev, ""); code != 200 {
			t.Fatalf("%s: %d %s", action, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	head, _ := a.Events().Head(ctx)
	if err := a.Projections().WaitFor(ctx, "renewals", head); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	doc = cabinetAfter(t, a, alice, head, "")
	validTo, err := time.Parse(time.DateOnly, doc["policy"].(map[string]any)["validTo"].(string))
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
	if n := tick(time.Now()); n != 0 {
		t.Fatalf("nothing is due today, but %d commands were sent", n)
	}
	inWindow := validTo.AddDate(0, 0, -10)
	if n := tick(inWindow); n != 1 {
		t.Fatalf("in the renewal window: %d commands, want the reminder", n)
	}
	if n := tick(inWindow); n != 0 {
		t.Fatalf("second tick in the window: %d commands, want none", n)
	}
	if n := tick(validTo.AddDate(0, 0, 2)); n != 1 {
		t.Fatalf("after the term: %d commands, want the expiry", n)
	}
	head, _ = a.Events().Head(ctx)
	doc = cabinetAfter(t, a, alice, head, "")
	var kinds []string
	for _, n := range doc["inbox"].([]any) {
		kinds = append(kinds, n.(map[string]any)["kind"].(string))
	}
	if got := strings.Join(kinds, ","); !strings.HasSuffix(got, "PolicyIssued,RenewalDue,PolicyExpired") {
		t.Fatalf("inbox %s", got)
	}
	app0 := doc["applications"].([]any)[0].(map[string]any)
	if app0["status"] != "policy_expired" || !strings.Contains(strings.Join(toStrings(app0["actions"]), ","), "renew") {
		t.Fatalf("after expiry: %v", app0)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
