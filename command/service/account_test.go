package service

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// One account is one person, who may hold one policy: a second
// application from the account, even with another identity document, is
// refused while the first is open (an issued policy included), and named,
// since it is the caller's own. A closed one frees the account.
func TestOneOpenApplicationPerAccount(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	first := approved(t, s)
	if _, err := s.Handle(ctx, Request{Meta: reviewer}, first, application.IssuePolicy{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7777777"))
	if e, ok := cmderr.As(err); !ok || e.Code != "duplicate_application" || e.ExistingApplicationID != first {
		t.Fatalf("a second passport on an account with a policy: %v", err)
	}
	// Another person is not affected.
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N7777777")); err != nil {
		t.Fatalf("another account: %v", err)
	}

	// A rejected application leaves the account free.
	s2, _ := newService(t, nil)
	res, err := s2.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, application.ClaimForReview{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Submit(ctx, Request{Meta: applicant}, validForm("N7777777")); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("second application while the first is in review: %v", err)
	}
	if _, err := s2.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, application.Reject{ReasonCode: schema.RejectInvalidDocuments, Reason: "Документы не читаются / unreadable scans"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Submit(ctx, Request{Meta: applicant}, validForm("N7777777")); err != nil {
		t.Fatalf("after the rejection: %v", err)
	}
}

// A document held by another account's application is refused without
// that application's id, which is not the caller's to know.
func TestDocumentOfAnotherAccountNamesNothing(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	if _, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N1234567"))
	e, ok := cmderr.As(err)
	if !ok || e.Code != "document_in_use" || e.ExistingApplicationID != "" {
		t.Fatalf("someone else's passport: %+v", err)
	}
	if e.Message.RU == "" || e.Message.EN == "" {
		t.Fatalf("message %+v", e.Message)
	}
}

// Applications written before the account reservation existed get it from
// the migration: an open one blocks its applicant's next submission, a
// closed one does not, two open ones of one account are reported, and the
// migration runs once.
func TestReserveAccountsCoversOlderApplications(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	legacy := func(applicant string, owner int, number string, closed bool) string {
		t.Helper()
		id := uuid.NewString()
		evs := []schema.Event{schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: applicant, SubmittedAt: now, Form: formOf(owner, number)}}
		if closed {
			evs = append(evs, schema.ApplicationWithdrawn{ApplicationID: id, WithdrawnAt: now})
		}
		var out []eventstore.NewEvent
		for _, e := range evs {
			typ, v, data, err := schema.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicant})
		}
		// Straight to the store, as the service before the account rule
		// left them: no account reservation.
		if _, err := st.Append(ctx, schema.ApplicationStream(id), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: applicant, Role: events.RoleApplicant}}, out...); err != nil {
			t.Fatal(err)
		}
		return id
	}
	open1 := legacy("user-1", 1, "N1000001", false)
	legacy("user-2", 2, "N2000001", true)
	legacy("user-3", 3, "N3000001", false)
	legacy("user-3", 3, "N3000002", false) // one account, two open: a conflict

	// Before the migration the rule cannot see them.
	res, err := s.ReserveAccounts(ctx)
	if err != nil || !res.Ran || res.Changed != 2 || res.Conflicts != 1 {
		t.Fatalf("migration: %+v %v, want 2 reserved and 1 conflict", res, err)
	}
	_, err = s.Submit(ctx, Request{Meta: applicant}, formOf(1, "N1000002"))
	if e, ok := cmderr.As(err); !ok || e.Code != "duplicate_application" || e.ExistingApplicationID != open1 {
		t.Fatalf("user-1's second application after the migration: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N2000002")); err != nil {
		t.Fatalf("user-2, whose older application is closed: %v", err)
	}
	if again, err := s.ReserveAccounts(ctx); err != nil || again.Ran {
		t.Fatalf("second run: %+v %v, want nothing done", again, err)
	}
}
