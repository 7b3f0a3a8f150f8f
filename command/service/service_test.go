package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// uploads is a Documents that knows every id it is asked about as a scan of
// the kind its id starts with, owned by user-1.
type uploads struct{}

func (uploads) Lookup(_ context.Context, id string) (schema.DocumentUploaded, bool, error) {
	kinds := map[string]string{"1": schema.DocumentPassport, "2": schema.DocumentResidence, "3": schema.DocumentConsent}
	k, ok := kinds[id[:1]]
	// The last group is the owner's number (see formOf).
	owner, err := strconv.Atoi(id[len(id)-12:])
	if err != nil {
		return schema.DocumentUploaded{}, false, nil
	}
	return schema.DocumentUploaded{DocumentID: id, OwnerID: "user-" + strconv.Itoa(owner), Kind: k, SHA256: "ab", Size: 1, ContentType: "application/pdf"}, ok, nil
}

// ContentSHA256 gives every scan the digest "content-" and its id.
func (uploads) ContentSHA256(_ context.Context, doc schema.DocumentUploaded) (string, error) {
	return "content-" + doc.DocumentID, nil
}

var (
	now       = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	applicant = events.Metadata{Actor: events.Actor{ID: "user-1", Role: events.RoleApplicant}}
	// another and third are other people, with accounts of their own.
	another  = events.Metadata{Actor: events.Actor{ID: "user-2", Role: events.RoleApplicant}}
	third    = events.Metadata{Actor: events.Actor{ID: "user-3", Role: events.RoleApplicant}}
	reviewer = events.Metadata{Actor: events.Actor{ID: "rev-1", Role: events.RoleReviewer}}
)

func newService(t *testing.T, tune func(*Options)) (*Service, *eventstore.Store) {
	t.Helper()
	st := esdbtest.Store(t, eventstore.Options{})
	opts := Options{Store: st, Documents: uploads{}, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// validForm is user-1's form with the given passport number.
func validForm(number string) schema.Form { return formOf(1, number) }

// formOf is the form of user-<owner>, with scans of theirs.
func formOf(owner int, number string) schema.Form {
	return schema.Form{
		Applicant: schema.Applicant{LastName: "Ким", FirstName: "Анна", BirthDate: "1995-06-01", BirthPlace: "Алматы", Citizenship: "KAZ", Sex: "female"},
		IdentityDocument: schema.IdentityDocument{Type: schema.IdentityForeignPassport, Number: number,
			IssuedAt: "2021-01-15", IssuedBy: "MIA RK", ExpiresAt: "2031-01-14"},
		ResidenceDocument: schema.ResidenceDocument{Type: schema.ResidenceEAEUWorker, Number: "15/2025", IssuedAt: "2025-06-01", ExpiresAt: "2026-12-31"},
		Address:           schema.Address{Region: "50", City: "Химки", Street: "Ленина", House: "1", PostalCode: "141400"},
		Contacts:          schema.Contacts{Phone: "+77011234567", Email: "anna@example.kz"},
		Documents: []schema.DocumentRef{
			{Kind: schema.DocumentPassport, ID: fmt.Sprintf("10000000-0000-4000-8000-%012d", owner)},
			{Kind: schema.DocumentResidence, ID: fmt.Sprintf("20000000-0000-4000-8000-%012d", owner)},
			{Kind: schema.DocumentConsent, ID: fmt.Sprintf("30000000-0000-4000-8000-%012d", owner)},
		},
		Consent: true,
	}
}

func approved(t *testing.T, s *Service) string {
	t.Helper()
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []application.Command{application.ClaimForReview{}, application.Approve{}} {
		if _, err := s.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, c); err != nil {
			t.Fatal(err)
		}
	}
	return res.ApplicationID
}

// TestENPCollision takes the first candidate ЕНП for another application;
// issuing moves on to the next candidate.
func TestENPCollision(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	id := approved(t, s)
	taken := application.ENPCandidate(id, 0)
	if _, err := st.Append(ctx, schema.ENPStream(taken), eventstore.NoStream, reviewer, eventstore.NewEvent{
		Type: schema.TypeENPReserved, Data: schema.ENPReserved{ENP: taken, ApplicationID: "someone-else"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, id, application.IssuePolicy{}); err != nil {
		t.Fatal(err)
	}
	l, _ := s.load(ctx, id)
	if l.state.ENP != application.ENPCandidate(id, 1) {
		t.Fatalf("ЕНП %s, want the second candidate", l.state.ENP)
	}
	// Reserving again for the same application is the same number, not a
	// new one: the reservation is idempotent.
	again, err := s.reserveENP(ctx, reviewer, id)
	if err != nil || again != l.state.ENP {
		t.Fatalf("again %s %v", again, err)
	}
}

// TestRefusedIssueReservesNothing: a command the domain refuses does not
// burn an ЕНП.
func TestRefusedIssueReservesNothing(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, application.IssuePolicy{}); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("issue before approval: %v", err)
	}
	if recs, _ := st.Load(ctx, schema.ENPStream(application.ENPCandidate(res.ApplicationID, 0))); len(recs) != 0 {
		t.Fatal("a refused command reserved an ЕНП")
	}
}

// TestIdempotencyTakeover: a process claimed a key, wrote the command's
// events and died before recording its answer. While the claim is fresh a
// repeat waits and then answers 409; after the lease a repeat takes over,
// finds the events by command id, and writes nothing new.
func TestIdempotencyTakeover(t *testing.T) {
	s, st := newService(t, func(o *Options) {
		o.IdempotencyLease = 300 * time.Millisecond
		o.IdempotencyWait = 50 * time.Millisecond
	})
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	id := res.ApplicationID
	req := Request{Meta: reviewer, IdempotencyKey: "claim-it"}
	fp, _ := fingerprint(id, application.ClaimForReview{})
	claim := schema.IdempotencyClaimed{Fingerprint: fp, Command: "ClaimForReview", ApplicationID: id, CommandID: uuid.NewString()}
	if _, err := st.Append(ctx, idempotencyStream(req), eventstore.NoStream, reviewer, eventstore.NewEvent{Type: claim.EventType(), Data: claim}); err != nil {
		t.Fatal(err)
	}
	dead := req
	dead.Meta.CommandID = claim.CommandID
	written, err := s.run(ctx, dead, id, application.ClaimForReview{}, true)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.Handle(ctx, req, id, application.ClaimForReview{}); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("while the claim is live: %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	got, err := s.Handle(ctx, req, id, application.ClaimForReview{})
	if err != nil || got != written {
		t.Fatalf("takeover answered %+v %v, want %+v", got, err, written)
	}
	if l, _ := s.load(ctx, id); len(l.recs) != 2 {
		t.Fatalf("%d events after the takeover", len(l.recs))
	}
	recs, _ := st.Load(ctx, idempotencyStream(req))
	if last := recs[len(recs)-1]; last.Envelope.Type != schema.TypeIdempotencyCompleted {
		t.Fatalf("key record ends with %s", last.Envelope.Type)
	}
	// From now on, a plain replay.
	if again, err := s.Handle(ctx, req, id, application.ClaimForReview{}); err != nil || again != written {
		t.Fatalf("replay %+v %v", again, err)
	}
}

// TestPersonReservationGrace: a reservation whose application has no events
// yet holds for the grace period (its submission is in flight), and is
// overtaken after it (the submission died between its two writes).
func TestPersonReservationGrace(t *testing.T) {
	clock := now
	s, _ := newService(t, func(o *Options) { o.Now = func() time.Time { return clock } })
	ctx := context.Background()
	key := application.PersonKey(nil, validForm("N1234567"))
	ghost := uuid.NewString()
	if err := s.reservePerson(ctx, applicant, s.identitySlot(key, "user-1", false), ghost, true); err != nil {
		t.Fatal(err)
	}
	// Whose the ghost is cannot be known, so the refusal names nothing.
	_, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "contention" || e.ExistingApplicationID != "" {
		t.Fatalf("within grace: %v", err)
	}
	clock = clock.Add(2 * DefaultReservationGrace)
	if _, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567")); err != nil {
		t.Fatalf("after grace: %v", err)
	}
}

// askForPassport has the reviewer ask the applicant for their passport
// number again.
func askForPassport(t *testing.T, s *Service, id string) {
	t.Helper()
	q := application.RequestInfo{Questions: []application.QuestionInput{{Text: "Номер паспорта?", Field: "/identityDocument/number"}}}
	if _, err := s.Handle(context.Background(), Request{Meta: reviewer}, id, q); err != nil {
		t.Fatal(err)
	}
}

// correctPassport answers with the identity document of validForm(number).
func correctPassport(s *Service, id, number string) error {
	d := validForm(number).IdentityDocument
	_, err := s.Handle(context.Background(), Request{Meta: applicant}, id, application.ProvideInfo{Corrections: schema.Corrections{IdentityDocument: &d}})
	return err
}

// TestCorrectedPassportMovesTheReservation: correcting the identity
// document in ProvideInfo reserves the new person and frees the old one.
func TestCorrectedPassportMovesTheReservation(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	id := res.ApplicationID
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, id, application.ClaimForReview{}); err != nil {
		t.Fatal(err)
	}
	askForPassport(t, s, id)
	// Someone else holds the corrected number: refused, without their
	// application's id.
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N7654321")); err != nil {
		t.Fatal(err)
	}
	err = correctPassport(s, id, "N7654321")
	if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" || e.ExistingApplicationID != "" {
		t.Fatalf("corrected into a held passport: %v", err)
	}
	if err := correctPassport(s, id, "N1111111"); err != nil {
		t.Fatal(err)
	}
	// The old passport is free, the new one is taken.
	if _, err := s.Submit(ctx, Request{Meta: third}, formOf(3, "N1234567")); err != nil {
		t.Fatalf("old passport still held: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: third}, formOf(3, "N1111111")); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("new passport not held: %v", err)
	}
}

func TestUnauthenticatedAndBadIDs(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	if _, err := s.Submit(ctx, Request{}, validForm("N1")); !cmderr.Is(err, cmderr.Unauthenticated) {
		t.Errorf("no caller: %v", err)
	}
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, "application-1", application.ClaimForReview{}); !cmderr.Is(err, cmderr.NotFound) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store")
	}
	var ce *cmderr.Error
	if _, err := s.Handle(ctx, Request{Meta: reviewer, IdempotencyKey: string(make([]byte, 300))}, uuid.NewString(), application.ClaimForReview{}); !errors.As(err, &ce) || ce.Kind != cmderr.BadRequest {
		t.Errorf("long key: %v", err)
	}
}

// A reservation repeated (a retried submission) is the same write, whether
// the first try created the stream or not, and the stream keeps one event.
func TestRepeatedReservationIsOneEvent(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	key := application.PersonKey(nil, validForm("N1234567"))
	app := uuid.NewString()
	slot := s.identitySlot(key, "user-1", false)
	for range 3 {
		if err := s.reservePerson(ctx, applicant, slot, app, true); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := st.Load(ctx, schema.PersonStream(key))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d reservation events, want 1", len(recs))
	}
	// Another application of the same person, while the first is within
	// its grace: refused, and nothing is appended.
	if err := s.reservePerson(ctx, applicant, slot, uuid.NewString(), true); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("second application reserved the person: %v", err)
	}
	if recs, _ := st.Load(ctx, schema.PersonStream(key)); len(recs) != 1 {
		t.Fatalf("%d reservation events after a refusal, want 1", len(recs))
	}
}

// A fresh submission decides without reading its new stream. Were its id
// taken after all, it is refused, the other application is untouched, and
// the reservation the refused one took does not hold its person.
func TestSubmissionWithATakenIDIsRefused(t *testing.T) {
	taken := uuid.Must(uuid.NewV7())
	next := taken
	s, st := newService(t, func(o *Options) { o.NewApplicationID = func() (uuid.UUID, error) { return next, nil } })
	ctx := context.Background()
	first, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1111111"))
	if err != nil || first.ApplicationID != taken.String() {
		t.Fatalf("first: %+v %v", first, err)
	}
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N2222222")); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("a submission under a taken id: %v, want a conflict", err)
	}
	recs, err := st.Load(ctx, schema.ApplicationStream(taken.String()))
	if err != nil || len(recs) != 1 {
		t.Fatalf("the first application has %d events (%v), want its one", len(recs), err)
	}
	// The second person is free to apply under a new id.
	next = uuid.Must(uuid.NewV7())
	again, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N2222222"))
	if err != nil || again.ApplicationID != next.String() {
		t.Fatalf("second person after the collision: %+v %v", again, err)
	}
}

// An application that was a person's first reserver, left the person by a
// correction and comes back to them after another application took them,
// is refused: the store takes a no-stream append of an event equal to the
// stream's first as a repeat and reports success, so only a submission
// with a new id may try the stream as new.
func TestReturningToAPersonTakenMeanwhileIsRefused(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	b, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, b.ApplicationID, application.ClaimForReview{}); err != nil {
		t.Fatal(err)
	}
	askForPassport(t, s, b.ApplicationID)
	if err := correctPassport(s, b.ApplicationID, "N7654321"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N1234567")); err != nil {
		t.Fatalf("the freed passport: %v", err)
	}
	askForPassport(t, s, b.ApplicationID)
	err = correctPassport(s, b.ApplicationID, "N1234567")
	if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" {
		t.Fatalf("back to a passport another application holds: %v", err)
	}
}

// The time an event carries and the time its envelope says it occurred
// are one instant: the auditor's time travel to an application's
// submittedAt finds the submission, instead of "did not exist yet" (QA:
// the envelope was stamped a few milliseconds later, at the append).
func TestEventTimesAreTheDecisionsTime(t *testing.T) {
	var tick atomic.Int64
	s, st := newService(t, func(o *Options) {
		o.Now = func() time.Time { return now.Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	})
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, application.ClaimForReview{}); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Load(ctx, schema.ApplicationStream(res.ApplicationID))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := recs[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	sub, ok := ev.(schema.ApplicationSubmitted)
	if !ok {
		t.Fatalf("first event %T", ev)
	}
	if !recs[0].Envelope.OccurredAt.Equal(sub.SubmittedAt) {
		t.Fatalf("submitted at %s, its envelope says %s", sub.SubmittedAt, recs[0].Envelope.OccurredAt)
	}
	if len(recs) < 2 || !recs[1].Envelope.OccurredAt.After(recs[0].Envelope.OccurredAt) || recs[1].Envelope.OccurredAt.After(now.Add(time.Minute)) {
		t.Fatalf("the claim's envelope time %v, after the submission's %v and on the service's clock", recs[1].Envelope.OccurredAt, recs[0].Envelope.OccurredAt)
	}
}
