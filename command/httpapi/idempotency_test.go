package httpapi_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events/schema"
)

func TestIdempotentReplay(t *testing.T) {
	s := newStack(t, application.Config{})
	scans := s.scans(applicant)
	body := form("1234567", scans)

	first := s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "submit-1")
	wantStatus(t, first, fiber.StatusCreated)
	id := first.result(t).ApplicationID

	again := s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "submit-1")
	wantStatus(t, again, fiber.StatusCreated)
	if !bytes.Equal(first.body, again.body) {
		t.Fatalf("replay answered %s, first %s", again.body, first.body)
	}
	if recs, _ := s.events(id); len(recs) != 1 {
		t.Fatalf("%d events after a replay", len(recs))
	}

	// The record is in the event store: a new process (new client, new
	// service, new app) answers the same.
	st := s.openStore()
	svc, err := service.New(service.Options{Store: st, Documents: s.docs, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.app = newApp(t, svc, s.docs)
	restarted := s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "submit-1")
	if restarted.status != fiber.StatusCreated || !bytes.Equal(first.body, restarted.body) {
		t.Fatalf("after restart: %d %s", restarted.status, restarted.body)
	}

	// Same key, another request: refused.
	other := body
	other.Contacts.Email = "other@example.com"
	r := s.post("/api/v1/applications", applicant, other, "Idempotency-Key", "submit-1")
	wantStatus(t, r, fiber.StatusUnprocessableEntity)
	if p := r.problem(t); p.Code != "idempotency_key_reused" {
		t.Fatalf("reuse: %s", r.body)
	}
	// The same key from another caller is another key.
	wantStatus(t, s.post(appPath(id, "withdraw"), applicant2, nil, "Idempotency-Key", "submit-1"), fiber.StatusNotFound)

	// Commands on an application replay too.
	c1 := s.post(appPath(id, "claim"), reviewer, nil, "Idempotency-Key", "claim-1")
	c2 := s.post(appPath(id, "claim"), reviewer, nil, "Idempotency-Key", "claim-1")
	wantStatus(t, c2, fiber.StatusOK)
	if !bytes.Equal(c1.body, c2.body) {
		t.Fatalf("claim replay %s vs %s", c2.body, c1.body)
	}
	if recs, _ := s.events(id); len(recs) != 2 {
		t.Fatalf("%d events after a claim replay", len(recs))
	}
}

// TestIdempotentReplayOfTheSameRequestSpelledOtherwise: the server keeps
// scan ids in lower case and text trimmed, so a replay that sends them as
// the server gave them back, or the other way round, is the same request.
func TestIdempotentReplayOfTheSameRequestSpelledOtherwise(t *testing.T) {
	s := newStack(t, application.Config{})
	scans := s.scans(applicant)
	shouted := make([]schema.DocumentRef, len(scans))
	for i, d := range scans {
		d.ID = " " + strings.ToUpper(d.ID)
		shouted[i] = d
	}
	body := form("1234567", shouted)
	body.Applicant.LastName = "  Рахимов "
	body.Applicant.Citizenship = "uzb"

	first := s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "k")
	wantStatus(t, first, fiber.StatusCreated)
	id := first.result(t).ApplicationID

	again := s.post("/api/v1/applications", applicant, form("1234567", scans), "Idempotency-Key", "k")
	if again.status != fiber.StatusCreated || !bytes.Equal(first.body, again.body) {
		t.Fatalf("replay as stored: %d %s, first %s", again.status, again.body, first.body)
	}
	if recs, _ := s.events(id); len(recs) != 1 {
		t.Fatalf("%d events after a replay", len(recs))
	}
	// What the server does not take away still tells two requests apart.
	other := form("1234567", scans)
	other.Applicant.FirstName = "Алишерр"
	wantStatus(t, s.post("/api/v1/applications", applicant, other, "Idempotency-Key", "k"), fiber.StatusUnprocessableEntity)
}

// A scan id in another spelling of the same UUID (urn:uuid:, braces, no
// dashes, upper case) names the scan: it was looked up as that scan and
// then not matched, so the form answered unknown_document (QA). The event
// keeps the id as the server wrote it.
func TestScanIDsInOtherUUIDSpellingsNameTheScan(t *testing.T) {
	s := newStack(t, application.Config{})
	scans := s.scans(applicant)
	spelled := slices.Clone(scans)
	spelled[0].ID = "urn:uuid:" + strings.ToUpper(scans[0].ID)
	spelled[1].ID = "{" + scans[1].ID + "}"
	spelled[2].ID = strings.ReplaceAll(scans[2].ID, "-", "")
	r := s.post("/api/v1/applications", applicant, form("7654321", spelled))
	wantStatus(t, r, fiber.StatusCreated)
	_, evs := s.events(r.result(t).ApplicationID)
	sub, ok := evs[0].(schema.ApplicationSubmitted)
	if !ok {
		t.Fatalf("first event %T", evs[0])
	}
	for i, d := range sub.Documents {
		if d.ID != scans[i].ID {
			t.Errorf("document %d stored as %q, want %q", i, d.ID, scans[i].ID)
		}
	}
}

// TestIdempotencyRefusalFreesTheKey: a refused request wrote nothing, so the
// corrected request may reuse its key.
func TestIdempotencyRefusalFreesTheKey(t *testing.T) {
	s := newStack(t, application.Config{})
	body := form("1234567", s.scans(applicant))
	bad := body
	bad.Consent = false
	wantStatus(t, s.post("/api/v1/applications", applicant, bad, "Idempotency-Key", "k"), fiber.StatusUnprocessableEntity)
	wantStatus(t, s.post("/api/v1/applications", applicant, bad, "Idempotency-Key", "k"), fiber.StatusUnprocessableEntity)
	wantStatus(t, s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "k"), fiber.StatusCreated)
}

// TestIdempotentRace sends the same keyed request ten times at once: one
// executes, the others wait for its answer and return it.
func TestIdempotentRace(t *testing.T) {
	s := newStack(t, application.Config{})
	body := form("1234567", s.scans(applicant))
	const n = 10
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = s.post("/api/v1/applications", applicant, body, "Idempotency-Key", "race") })
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != fiber.StatusCreated || !bytes.Equal(a.body, answers[0].body) {
			t.Fatalf("answer %d: %d %s, first %s", i, a.status, a.body, answers[0].body)
		}
	}
	if recs, _ := s.events(answers[0].result(t).ApplicationID); len(recs) != 1 {
		t.Fatalf("%d events", len(recs))
	}
}

// An escaped half of a surrogate pair ("\ud800") is decoded by JSON into
// U+FFFD, which was then stored as "�" in place of what was sent (QA):
// refused, naming the field, as bytes that are not UTF-8 are.
func TestLoneSurrogatesAreRefusedNotReplaced(t *testing.T) {
	s := newStack(t, application.Config{})
	raw, err := json.Marshal(form("7654322", s.scans(applicant)))
	if err != nil {
		t.Fatal(err)
	}
	for field, bad := range map[string]string{
		"/applicant/birthPlace": `"birthPlace":"\ud800\udfff\udc00 Ташкент"`,
		"/applicant/lastName":   `"lastName":"Рахимов\ud83d"`,
		"/address/street":       `"street":"\udc00ул. Тверская"`,
	} {
		key, _, _ := strings.Cut(bad, ":")
		body := regexp.MustCompile(key+`:"[^"]*"`).ReplaceAllLiteralString(string(raw), bad)
		if body == string(raw) {
			t.Fatalf("%s: the body did not change", field)
		}
		r := s.post("/api/v1/applications", applicant, body)
		if r.status != fiber.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", field, r.status, r.body)
			continue
		}
		// A name is held to its letters before its characters.
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != field || (p.Errors[0].Code != "invalid_characters" && p.Errors[0].Code != "format") {
			t.Errorf("%s: %s", field, r.body)
		}
	}
}
