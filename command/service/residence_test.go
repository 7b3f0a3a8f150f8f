package service

import (
	"context"
	"strings"
	"testing"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// withPermit is formOf's person holding a residence permit.
func withPermit(owner int, passport, series, number string) schema.Form {
	f := formOf(owner, passport)
	f.ResidenceDocument = schema.ResidenceDocument{Type: schema.ResidenceVNZh, Series: series, Number: number, IssuedAt: "2024-03-01", ExpiresAt: "2031-03-01"}
	return f
}

// One residence permit, one person, one policy: another account with
// another passport and the same permit is refused (lifecycle QA: a new
// passport and a new account gave the same person a second ЕНП), however
// the number is spaced; the permit is free again once the application
// holding it is withdrawn. An employment contract's number, which is the
// employer's, locks nothing (formOf's people all share one).
func TestOneOpenApplicationPerResidencePermit(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	first, err := s.Submit(ctx, Request{Meta: applicant}, withPermit(1, "1111111", "82", "1234567"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Submit(ctx, Request{Meta: another}, withPermit(2, "2222222", "8 2", "123-4567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "residence_document_in_use" || e.ExistingApplicationID != "" || e.Message.EN == "" ||
		len(e.Fields) != 1 || e.Fields[0].Field != "/residenceDocument/number" {
		t.Fatalf("another account, another passport, the same permit: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: another}, withPermit(2, "2222222", "82", "7654321")); err != nil {
		t.Fatalf("another permit: %v", err)
	}
	// The same account with a new passport: its own open application,
	// named, and the permit named as what it is.
	_, err = s.Submit(ctx, Request{Meta: applicant}, withPermit(1, "1111112", "82", "1234567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "duplicate_application" || e.ExistingApplicationID != first.ApplicationID || !strings.Contains(e.Message.RU, "праве проживания") {
		t.Fatalf("the same account, a new passport, its permit: %v", err)
	}
	if _, err := s.Handle(ctx, Request{Meta: applicant}, first.ApplicationID, application.Withdraw{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(ctx, Request{Meta: third}, withPermit(3, "3333333", "82", "1234567")); err != nil {
		t.Fatalf("the permit of a withdrawn application: %v", err)
	}
}

// Applications open before the residence lock get theirs from the
// migration: a third account is refused their permit, a withdrawn one
// holds nothing, and the migration runs once.
func TestReserveResidencesCoversOlderApplications(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	appendLegacy(t, st, "user-1", withPermit(1, "1111111", "82", "1234567"), false)
	appendLegacy(t, st, "user-2", withPermit(2, "2222222", "82", "1234567"), false) // the same permit: a conflict
	appendLegacy(t, st, "user-4", withPermit(4, "4444444", "83", "7654321"), true)
	appendLegacy(t, st, "user-5", formOf(5, "5555555"), false) // a contract: no lock
	res, err := s.ReserveResidences(ctx)
	if err != nil || !res.Ran || res.Changed != 1 || res.Conflicts != 1 {
		t.Fatalf("migration: %+v %v, want 1 reserved and 1 conflict", res, err)
	}
	_, err = s.Submit(ctx, Request{Meta: third}, withPermit(3, "3333333", "82", "1234567"))
	if e, ok := cmderr.As(err); !ok || e.Code != "residence_document_in_use" {
		t.Fatalf("a third account with an older application's permit: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: third}, withPermit(3, "3333333", "83", "7654321")); err != nil {
		t.Fatalf("the permit of a withdrawn older application: %v", err)
	}
	if again, err := s.ReserveResidences(ctx); err != nil || again.Ran {
		t.Fatalf("second run: %+v %v", again, err)
	}
}
