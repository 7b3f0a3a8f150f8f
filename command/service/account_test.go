package service

import (
	"context"
	"strings"
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
	// It names the field it is about, as a 422 does (QA).
	if len(e.Fields) != 1 || e.Fields[0].Field != "/identityDocument/number" || e.Fields[0].Code != "document_in_use" {
		t.Fatalf("fields %+v", e.Fields)
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
		return appendLegacy(t, st, applicant, formOf(owner, number), closed)
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

// appendLegacy writes an application straight to the store, as a service
// before a reservation rule left it: with no reservation at all. closed
// withdraws it; then makes more of its events.
func appendLegacy(t *testing.T, st *eventstore.Store, applicant string, f schema.Form, closed bool, then ...func(id string) schema.Event) string {
	t.Helper()
	id := uuid.NewString()
	evs := []schema.Event{schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: applicant, SubmittedAt: now, Form: f}}
	if closed {
		evs = append(evs, schema.ApplicationWithdrawn{ApplicationID: id, WithdrawnAt: now})
	}
	for _, e := range then {
		evs = append(evs, e(id))
	}
	var out []eventstore.NewEvent
	for _, e := range evs {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicant})
	}
	if _, err := st.Append(context.Background(), schema.ApplicationStream(id), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: applicant, Role: events.RoleApplicant}}, out...); err != nil {
		t.Fatal(err)
	}
	return id
}

// Applications open before the person key read series and number as one
// get their document reserved under the new key by the migration: a
// passport they hold is refused to a third account however it is split,
// two open ones that the old key told apart are reported, a closed one
// holds nothing, and the migration runs once.
func TestReserveDocumentsCoversOlderApplications(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	split := func(owner int, series, number string) schema.Form {
		f := formOf(owner, number)
		f.IdentityDocument.Series = series
		return f
	}
	appendLegacy(t, st, "user-1", split(1, "FA", "1234567"), false)
	appendLegacy(t, st, "user-2", split(2, "", "FA1234567"), false) // the same passport: a conflict
	appendLegacy(t, st, "user-4", split(4, "GB", "7654321"), true)

	res, err := s.ReserveDocuments(ctx)
	if err != nil || !res.Ran || res.Changed != 1 || res.Conflicts != 1 {
		t.Fatalf("migration: %+v %v, want 1 reserved and 1 conflict", res, err)
	}
	_, err = s.Submit(ctx, Request{Meta: third}, split(3, "F", "A1234567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" {
		t.Fatalf("a third account with the passport of an older application: %v, want document_in_use", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: third}, split(3, "G", "B7654321")); err != nil {
		t.Fatalf("the passport of a withdrawn older application: %v", err)
	}
	if again, err := s.ReserveDocuments(ctx); err != nil || again.Ran {
		t.Fatalf("second run: %+v %v, want nothing done", again, err)
	}
}

// Applications whose applicant's data were erased hold no person: the
// migration reserves nothing for them and reports no conflict, though
// their documents (erased alike) look the same.
func TestReserveDocumentsSkipsErasedApplications(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	erased := func(id string) schema.Event {
		return schema.ApplicantDataErased{ApplicationID: id, ApplicantID: "user-1", Basis: schema.EraseBases[0], ErasedAt: now}
	}
	appendLegacy(t, st, "user-1", formOf(1, "E1000001"), false, erased)
	appendLegacy(t, st, "user-2", formOf(2, "E1000001"), false, erased)
	res, err := s.ReserveDocuments(ctx)
	if err != nil || !res.Ran || res.Changed != 0 || res.Conflicts != 0 {
		t.Fatalf("migration over erased applications: %+v %v, want nothing reserved and no conflict", res, err)
	}
}

// One passport is one person however an applicant splits its series and
// number between the two fields, and whatever citizenship they claim with
// it: a second account's submission of it is refused.
func TestOnePassportHoweverItsNumberIsSplit(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	first := formOf(1, "1234567")
	first.IdentityDocument.Series = "FA"
	if _, err := s.Submit(ctx, Request{Meta: applicant}, first); err != nil {
		t.Fatal(err)
	}
	for _, split := range [][2]string{{"", "FA1234567"}, {"F", "A1234567"}, {"fa", "123 4567"}} {
		f := formOf(2, split[1])
		f.IdentityDocument.Series = split[0]
		_, err := s.Submit(ctx, Request{Meta: another}, f)
		if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" {
			t.Fatalf("series %q, number %q from another account: %v, want document_in_use", split[0], split[1], err)
		}
	}
	claimed := formOf(2, "1234567")
	claimed.IdentityDocument.Series = "FA"
	claimed.Applicant.Citizenship = "KGZ"
	_, err := s.Submit(ctx, Request{Meta: another}, claimed)
	if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" {
		t.Fatalf("the passport under another claimed citizenship: %v, want document_in_use", err)
	}
}

// An МФЦ operator who submits for an applicant with an open application is
// told of the applicant's application, not that they themselves have one.
func TestOperatorIsToldOfTheApplicantsApplication(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	first, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	op := events.Metadata{Actor: events.Actor{ID: "op-1", Role: events.RoleOperator}, OnBehalfOf: "user-1"}
	_, err = s.Submit(ctx, Request{Meta: op}, validForm("N7654321"))
	e, ok := cmderr.As(err)
	if !ok || e.Code != "duplicate_application" || e.ExistingApplicationID != first.ApplicationID {
		t.Fatalf("the operator's second submission for user-1: %v", err)
	}
	if !strings.HasPrefix(e.Message.RU, "У заявителя уже есть") || !strings.HasPrefix(e.Message.EN, "The applicant already has") {
		t.Errorf("the refusal speaks to the applicant: %+v", e.Message)
	}
	_, err = s.Submit(ctx, Request{Meta: applicant}, validForm("N7654321"))
	if e, ok := cmderr.As(err); !ok || !strings.HasPrefix(e.Message.RU, "У вас уже есть") {
		t.Errorf("the applicant's own second submission: %v", err)
	}
	// Another account's passport: the operator is asked to check it, not
	// sent to an МФЦ.
	op2 := events.Metadata{Actor: events.Actor{ID: "op-1", Role: events.RoleOperator}, OnBehalfOf: "user-2"}
	_, err = s.Submit(ctx, Request{Meta: op2}, formOf(2, "N1234567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "document_in_use" || strings.Contains(e.Message.RU, "Если документ ваш") || !strings.Contains(e.Message.RU, "паспортом заявителя") {
		t.Errorf("the operator with another account's passport: %v", err)
	}
}
