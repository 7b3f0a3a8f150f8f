package application_test

import (
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
)

// now is 12:00 in Moscow on 2026-03-10.
var now = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

const (
	appID     = "7d1c9a52-3b8e-4f61-a0d2-5c4e9b7f1a20"
	owner     = "applicant-1"
	other     = "applicant-2"
	reviewer  = "reviewer-1"
	reviewer2 = "reviewer-2"
	testENP   = "1234567890123452"
)

var (
	asOwner     = application.Caller{ID: owner, Role: events.RoleApplicant}
	asOther     = application.Caller{ID: other, Role: events.RoleApplicant}
	asOperator  = application.Caller{ID: "operator-1", Role: events.RoleOperator, OnBehalfOf: owner}
	asLoneOp    = application.Caller{ID: "operator-1", Role: events.RoleOperator}
	asOtherOp   = application.Caller{ID: "operator-1", Role: events.RoleOperator, OnBehalfOf: other}
	asReviewer  = application.Caller{ID: reviewer, Role: events.RoleReviewer}
	asReviewer2 = application.Caller{ID: reviewer2, Role: events.RoleReviewer}
	asAuditor   = application.Caller{ID: "auditor-1", Role: events.RoleAuditor}
	asAdmin     = application.Caller{ID: "admin-1", Role: events.RoleAdmin}
	asSystem    = application.Caller{ID: "scheduler", Role: events.RoleSystem}
)

// uploads are the scans the owner uploaded, plus one of another applicant.
func uploads() map[string]schema.DocumentUploaded {
	up := func(id, kind, who string) schema.DocumentUploaded {
		return schema.DocumentUploaded{DocumentID: id, OwnerID: who, Kind: kind, SHA256: "sha-" + id, Size: 1000, ContentType: "application/pdf", UploadedAt: now}
	}
	return map[string]schema.DocumentUploaded{
		"doc-passport":   up("doc-passport", schema.DocumentPassport, owner),
		"doc-residence":  up("doc-residence", schema.DocumentResidence, owner),
		"doc-consent":    up("doc-consent", schema.DocumentConsent, owner),
		"doc-residence2": up("doc-residence2", schema.DocumentResidence, owner),
		"doc-consent2":   up("doc-consent2", schema.DocumentConsent, owner),
		"doc-passport2":  up("doc-passport2", schema.DocumentPassport, owner),
		"doc-foreign":    up("doc-foreign", schema.DocumentPassport, other),
	}
}

func validForm() schema.Form {
	return schema.Form{
		Applicant: schema.Applicant{
			LastName: "Рахимов", FirstName: "Алишер", MiddleName: "Бахтиёр угли", LatinName: "RAKHIMOV ALISHER",
			BirthDate: "1990-04-05", BirthPlace: "Ташкент", Citizenship: "UZB", Sex: "male",
		},
		IdentityDocument: schema.IdentityDocument{
			Type: schema.IdentityForeignPassport, Series: "FA", Number: "1234567",
			IssuedAt: "2020-01-15", IssuedBy: "MIA of Uzbekistan", ExpiresAt: "2030-01-14",
		},
		ResidenceDocument: schema.ResidenceDocument{
			Type: schema.ResidenceRVP, Series: "12", Number: "3456789", IssuedAt: "2025-01-10", ExpiresAt: "2028-01-10",
		},
		Address: schema.Address{
			Region: "77", City: "Москва", Street: "ул. Тверская", House: "7", Apartment: "12", PostalCode: "125009",
		},
		Contacts: schema.Contacts{Phone: "+79161234567", Email: "alisher@example.com"},
		Documents: []schema.DocumentRef{
			{Kind: schema.DocumentPassport, ID: "doc-passport"},
			{Kind: schema.DocumentResidence, ID: "doc-residence"},
			{Kind: schema.DocumentConsent, ID: "doc-consent"},
		},
		Consent: true,
	}
}

func env(c application.Caller, at time.Time) application.Env {
	return application.Env{Now: at, Caller: c, Documents: uploads()}
}

// submitted is the event a valid submission produces.
func submitted() schema.Event {
	evs, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: validForm()}, env(asOwner, now))
	if err != nil {
		panic(err)
	}
	return evs[0]
}

// history returns events that leave an application in status st. The policy
// of policy_active runs 2025-03-20..2026-03-19, so on `now` it is valid and
// inside the 30-day renewal window.
func history(st application.Status) []schema.Event {
	at := now.AddDate(0, 0, -1)
	claimed := schema.ApplicationClaimed{ApplicationID: appID, ReviewerID: reviewer, ClaimedAt: at}
	asked := schema.InfoRequested{ApplicationID: appID, ReviewerID: reviewer, RequestedAt: at, Questions: []schema.Question{
		{ID: "1.1", Text: "Уточните город", Field: "/address/city"},
	}}
	approved := schema.ApplicationApproved{ApplicationID: appID, ReviewerID: reviewer, ApprovedAt: at}
	issued := schema.PolicyIssued{ApplicationID: appID, ApplicantID: owner, ENP: testENP, ValidFrom: "2025-03-20", ValidTo: "2026-03-19",
		Document: schema.PolicyDocument{Number: testENP + "-01", Version: 1, IssuedAt: "2025-03-20"}, Region: "77", IssuedAt: at}
	switch st {
	case application.StatusNone:
		return nil
	case application.StatusSubmitted:
		return []schema.Event{submitted()}
	case application.StatusInReview:
		return []schema.Event{submitted(), claimed}
	case application.StatusInfoRequested:
		return []schema.Event{submitted(), claimed, asked}
	case application.StatusApproved:
		return []schema.Event{submitted(), claimed, approved}
	case application.StatusRejected:
		return []schema.Event{submitted(), claimed, schema.ApplicationRejected{ApplicationID: appID, ReviewerID: reviewer, RejectedAt: at, ReasonCode: schema.RejectOther, Reason: "x"}}
	case application.StatusWithdrawn:
		return []schema.Event{submitted(), schema.ApplicationWithdrawn{ApplicationID: appID, WithdrawnAt: at}}
	case application.StatusPolicyActive:
		return []schema.Event{submitted(), claimed, approved, issued}
	case application.StatusPolicyExpired:
		return []schema.Event{submitted(), claimed, approved, issued, schema.PolicyExpired{ApplicationID: appID, ENP: testENP, ValidTo: "2026-03-19", ExpiredAt: at}}
	}
	panic("no history for " + st)
}

func types(evs []schema.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventType()
	}
	return out
}

// askedWithStored is an application waiting on its applicant's answer
// whose form was stored, before some rule came in, as change leaves it.
func askedWithStored(change func(*schema.Form)) application.State {
	evs := history(application.StatusInfoRequested)
	sub := evs[0].(schema.ApplicationSubmitted)
	change(&sub.Form)
	evs[0] = sub
	return application.Fold(evs...)
}
