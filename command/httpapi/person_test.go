package httpapi_test

import (
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/schema"
)

// TestOneOpenApplicationPerPerson: a second submission for the same
// identity document is refused with the open application's id, until that
// application is withdrawn or rejected.
func TestOneOpenApplicationPerPerson(t *testing.T) {
	s := newStack(t, application.Config{})
	first := s.submitted(applicant, "1234567")

	// The same passport, spelt differently, through an МФЦ operator.
	second := form("12 345-67", s.scans(applicant))
	r := s.post("/api/v1/applications", operator, second)
	wantStatus(t, r, fiber.StatusConflict)
	if p := r.problem(t); p.Code != "duplicate_application" || p.ExistingApplicationID != first {
		t.Fatalf("duplicate: %s", r.body)
	}
	// Another passport is another person.
	wantStatus(t, s.post("/api/v1/applications", applicant2, form("7654321", s.scans(applicant2))), fiber.StatusCreated)

	// Withdrawing frees the person.
	wantStatus(t, s.post(appPath(first, "withdraw"), applicant, map[string]string{"reason": "Ошибся в адресе"}), fiber.StatusOK)
	r = s.post("/api/v1/applications", applicant, second)
	wantStatus(t, r, fiber.StatusCreated)
	third := r.result(t).ApplicationID

	// And so does a rejection.
	wantStatus(t, s.post(appPath(third, "claim"), reviewer, nil), fiber.StatusOK)
	wantStatus(t, s.post("/api/v1/applications", applicant, second), fiber.StatusConflict)
	wantStatus(t, s.post(appPath(third, "reject"), reviewer, map[string]string{"reasonCode": schema.RejectOther, "reason": "Дубль"}), fiber.StatusOK)
	wantStatus(t, s.post("/api/v1/applications", applicant, second), fiber.StatusCreated)
}

// TestConcurrentSubmissionsOfOnePerson: of simultaneous submissions for one
// passport exactly one opens an application.
func TestConcurrentSubmissionsOfOnePerson(t *testing.T) {
	s := newStack(t, application.Config{})
	body := form("1234567", s.scans(applicant))
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = s.post("/api/v1/applications", applicant, body).status })
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		switch st {
		case fiber.StatusCreated:
			created++
		case fiber.StatusConflict:
		default:
			t.Errorf("status %d", st)
		}
	}
	if created != 1 {
		t.Fatalf("%d applications opened: %v", created, statuses)
	}
}
