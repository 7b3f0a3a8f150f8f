package service

import (
	"context"
	"testing"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
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
