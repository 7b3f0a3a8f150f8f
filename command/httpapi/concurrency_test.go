package httpapi_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/schema"
)

// TestConcurrentDecisions races 50 approvals and rejections of one
// application: exactly one decision is written, everyone else gets 409.
// AutoIssue is on, so the winners' ЕНП reservation runs under the race too.
func TestConcurrentDecisions(t *testing.T) {
	s := newStack(t, application.Config{AutoIssue: true})
	id := s.submitted(applicant, "1234567")
	wantStatus(t, s.post(appPath(id, "claim"), reviewer, nil), fiber.StatusOK)

	const n = 50
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			action, body := "approve", any(nil)
			if i%2 == 1 {
				action, body = "reject", map[string]string{"reasonCode": schema.RejectInvalidDocuments, "reason": "Скан нечитаем"}
			}
			r := s.post(appPath(id, action), reviewer, body)
			statuses[i] = r.status
			if r.status == fiber.StatusConflict {
				codes[i] = r.problem(t).Code
			}
		})
	}
	wg.Wait()
	wins := 0
	for i, st := range statuses {
		switch st {
		case fiber.StatusOK:
			wins++
		case fiber.StatusConflict:
			if codes[i] != "wrong_state" {
				t.Errorf("request %d: conflict %q", i, codes[i])
			}
		default:
			t.Errorf("request %d: status %d", i, st)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
	_, evs := s.events(id)
	decisions := 0
	for _, e := range evs {
		switch e.(type) {
		case schema.ApplicationApproved, schema.ApplicationRejected:
			decisions++
		}
	}
	if decisions != 1 {
		t.Fatalf("%d decisions written: %v", decisions, eventTypes(evs))
	}
	// Concurrent approvers converge on one candidate ЕНП, so whichever won,
	// at most the first candidate was reserved and it belongs to this
	// application.
	if p, ok := evs[len(evs)-1].(schema.PolicyIssued); ok {
		if p.ENP != application.ENPCandidate(id, 0) {
			t.Errorf("ЕНП %s is not the first candidate", p.ENP)
		}
	}
	recs, err := s.store.Load(context.Background(), schema.ENPStream(application.ENPCandidate(id, 0)))
	if err != nil || len(recs) > 1 {
		t.Fatalf("ЕНП reservation stream: %v, %d events", err, len(recs))
	}
}

// TestIfMatch refuses a stale revision with the current one and accepts the
// right one.
func TestIfMatch(t *testing.T) {
	s := newStack(t, application.Config{})
	id := s.submitted(applicant, "1234567")
	r := s.post(appPath(id, "claim"), reviewer, nil, "If-Match", `"3"`)
	wantStatus(t, r, fiber.StatusConflict)
	if p := r.problem(t); p.Code != "stale_revision" || p.CurrentRevision == nil || *p.CurrentRevision != 0 {
		t.Fatalf("stale: %s", r.body)
	}
	r = s.post(appPath(id, "claim"), reviewer, nil, "If-Match", `"0"`)
	wantStatus(t, r, fiber.StatusOK)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	r = s.post(appPath(id, "approve"), reviewer, nil, "If-Match", `W/"1"`)
	wantStatus(t, r, fiber.StatusOK)
	wantStatus(t, s.post(appPath(id, "issue-policy"), reviewer, nil, "If-Match", "two"), fiber.StatusBadRequest)
}
