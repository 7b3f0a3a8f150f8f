package httpapi_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/schema"
)

// TestSeedJourney walks the seed's story through the HTTP API: a form with
// errors, the fixed form, review with a question, approval, the policy, a
// move, and the renewal a year later.
func TestSeedJourney(t *testing.T) {
	s := newStack(t, application.Config{})
	scans := s.scans(applicant)

	// The seed's applicant believes a migration card is enough; the system
	// names every field to fix at once.
	bad := form("1234567", scans)
	bad.ResidenceDocument = schema.ResidenceDocument{Type: schema.ResidenceMigrationCard, Series: "4617", Number: "1234567", IssuedAt: "2026-01-10", ExpiresAt: "2026-04-10"}
	bad.Contacts.Phone = "8 916 123"
	bad.Applicant.BirthDate = "1990-13-01"
	bad.Consent = false
	r := s.post("/api/v1/applications", applicant, bad)
	wantStatus(t, r, fiber.StatusUnprocessableEntity)
	p := r.problem(t)
	var got []string
	for _, e := range p.Errors {
		got = append(got, e.Field+":"+e.Code)
	}
	sort.Strings(got)
	want := []string{"/applicant/birthDate:no_such_date", "/consent:consent_required", "/contacts/phone:format", "/residenceDocument/type:not_eligible"}
	if !slices.Equal(got, want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	if !strings.Contains(p.Errors[slices.IndexFunc(p.Errors, func(e cmderrField) bool { return e.Code == "not_eligible" })].Message.RU, "вид на жительство") {
		t.Errorf("the migration card refusal does not name the needed document: %s", r.body)
	}

	// Fixed and submitted.
	r = s.post("/api/v1/applications", applicant, form("1234567", scans), "X-Request-Id", "corr-1")
	wantStatus(t, r, fiber.StatusCreated)
	res := r.result(t)
	id := res.ApplicationID
	if res.Revision != 0 || res.Position == 0 || r.header.Get("Location") != "/api/v1/applications/"+id || r.header.Get("ETag") != `"0"` {
		t.Fatalf("submit answer %s %v", r.body, r.header)
	}

	step := func(w who, action string, body any, rev uint64) {
		t.Helper()
		r := s.post(appPath(id, action), w, body)
		wantStatus(t, r, fiber.StatusOK)
		if got := r.result(t); got.ApplicationID != id || got.Revision != rev {
			t.Fatalf("%s: %s, want revision %d", action, r.body, rev)
		}
	}
	step(reviewer, "claim", nil, 1)
	step(reviewer, "request-info", map[string]any{"questions": []map[string]string{
		{"text": "Уточните дату выдачи РВП: на скане 11 января", "field": "/residenceDocument/issuedAt"},
	}}, 2)
	corrected := form("1234567", nil).ResidenceDocument
	corrected.IssuedAt = "2025-01-11"
	step(applicant, "provide-info", map[string]any{
		"answers":     []map[string]string{{"questionId": "1.1", "text": "Да, 11 января, исправил"}},
		"corrections": map[string]any{"residenceDocument": corrected},
	}, 3)
	step(reviewer, "approve", nil, 4)
	step(reviewer, "issue-policy", nil, 5)

	_, evs := s.events(id)
	issued := evs[5].(schema.PolicyIssued)
	if !application.ValidENP(issued.ENP) || issued.ValidFrom != "2026-03-10" || issued.ValidTo != "2027-03-09" || issued.Document.Version != 1 {
		t.Fatalf("policy %+v", issued)
	}
	if recs, err := s.store.Load(context.Background(), schema.ENPStream(issued.ENP)); err != nil || len(recs) != 1 {
		t.Fatalf("ЕНП reservation: %v %d", err, len(recs))
	}

	// The applicant moves; an МФЦ operator records it for them.
	s.clock.Advance(30 * 24 * time.Hour)
	step(operator, "change-address", map[string]any{"address": schema.Address{Region: "78", City: "Санкт-Петербург", Street: "Невский пр.", House: "10", PostalCode: "191025"}}, 6)

	// Renewal opens 30 days before the end of the term.
	r = s.post(appPath(id, "renew"), applicant, nil)
	wantStatus(t, r, fiber.StatusConflict)
	if p := r.problem(t); p.Code != "renewal_too_early" || p.CurrentRevision == nil || *p.CurrentRevision != 6 {
		t.Fatalf("early renewal: %s", r.body)
	}
	s.clock.Set(time.Date(2027, 2, 20, 9, 0, 0, 0, time.UTC))
	step(applicant, "renew", map[string]any{}, 7)

	recs, evs := s.events(id)
	if got := eventTypes(evs); !slices.Equal(got, []string{
		schema.TypeApplicationSubmitted, schema.TypeApplicationClaimed, schema.TypeInfoRequested, schema.TypeInfoProvided,
		schema.TypeApplicationApproved, schema.TypePolicyIssued, schema.TypeAddressChanged, schema.TypePolicyRenewed,
	}) {
		t.Fatalf("events %v", got)
	}
	moved := evs[6].(schema.AddressChanged)
	if moved.ENP != issued.ENP || moved.ValidTo != issued.ValidTo || moved.Document.Version != 2 || moved.Document.IssuedAt != "2026-04-09" {
		t.Errorf("address change %+v", moved)
	}
	renewed := evs[7].(schema.PolicyRenewed)
	// The new term follows the old one and ends with the РВП.
	if renewed.ENP != issued.ENP || renewed.ValidFrom != "2027-03-10" || renewed.ValidTo != "2028-01-10" || renewed.Document.Version != 3 {
		t.Errorf("renewal %+v", renewed)
	}
	sub := evs[0].(schema.ApplicationSubmitted)
	if sub.ApplicantID != applicant.id || len(sub.Documents) != 3 || sub.Documents[0].SHA256 == "" || sub.Documents[2].ContentType != "image/jpeg" {
		t.Errorf("submitted %+v", sub)
	}
	if env := recs[0].Envelope; env.Actor.ID != applicant.id || env.CorrelationID != "corr-1" || env.CommandID == "" || env.SchemaVersion != 2 {
		t.Errorf("submit envelope %+v", env)
	}
	if env := recs[6].Envelope; env.Actor.ID != operator.id || env.OnBehalfOf != applicant.id {
		t.Errorf("operator envelope %+v", env)
	}
	if provided := evs[3].(schema.InfoProvided); provided.Corrections.ResidenceDocument == nil || provided.Corrections.ResidenceDocument.IssuedAt != "2025-01-11" {
		t.Errorf("info provided %+v", provided)
	}
}

// TestAutoIssue issues the policy in the approval's own write.
func TestAutoIssue(t *testing.T) {
	s := newStack(t, application.Config{AutoIssue: true, PolicyTermMonths: 6})
	id := s.submitted(applicant, "1234567")
	wantStatus(t, s.post(appPath(id, "claim"), reviewer, nil), fiber.StatusOK)
	r := s.post(appPath(id, "approve"), reviewer, nil)
	wantStatus(t, r, fiber.StatusOK)
	if res := r.result(t); res.Revision != 3 {
		t.Fatalf("approve answer %s", r.body)
	}
	_, evs := s.events(id)
	p, ok := evs[3].(schema.PolicyIssued)
	if !ok || !p.Automatic || p.ValidTo != "2026-09-09" {
		t.Fatalf("events %v", eventTypes(evs))
	}
	wantStatus(t, s.post(appPath(id, "issue-policy"), reviewer, nil), fiber.StatusConflict)
}
