package application_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// when is one command as its usual issuer sends it.
type when struct {
	cmd    application.Command
	caller application.Caller
	at     time.Time
}

var newAddress = schema.Address{Region: "78", City: "Санкт-Петербург", Street: "Невский пр.", House: "10", PostalCode: "191025"}

// commands holds a valid instance of every command.
func commands() []when {
	return []when{
		{application.SubmitApplication{ApplicationID: appID, Form: validForm()}, asOwner, now},
		{application.ClaimForReview{}, asReviewer, now},
		{application.ReleaseClaim{Reason: "В отпуске до 5 марта"}, asReviewer, now},
		{application.RequestInfo{Questions: []application.QuestionInput{{Text: "Пришлите скан РВП целиком", DocumentKind: schema.DocumentResidence}}}, asReviewer, now},
		{application.ProvideInfo{Answers: []schema.Answer{{QuestionID: "1.1", Text: "Москва, верно"}}}, asOwner, now},
		{application.Approve{}, asReviewer, now},
		{application.Reject{ReasonCode: schema.RejectInvalidDocuments, Reason: "Скан нечитаем"}, asReviewer, now},
		{application.IssuePolicy{ENP: testENP}, asReviewer, now},
		{application.ChangeAddress{Address: newAddress}, asOwner, now},
		{application.Renew{}, asOwner, now},
		{application.Withdraw{Reason: "Уезжаю"}, asOwner, now},
		{application.ExpirePolicy{}, asSystem, now.AddDate(0, 0, 15)},
		{application.RemindRenewal{}, asSystem, now},
		{application.WithdrawConsent{Reason: "Передумал"}, asOwner, now},
		{application.EraseData{Basis: schema.EraseOnRequest}, asAdmin, now},
	}
}

// outcome is what a command does in a state: the events it emits and the
// status it leads to, or the kind of its refusal.
type outcome struct {
	events []string
	next   application.Status
	refuse cmderr.Kind
}

func ok(next application.Status, evs ...string) outcome { return outcome{events: evs, next: next} }

var (
	conflict = outcome{refuse: cmderr.Conflict}
	notFound = outcome{refuse: cmderr.NotFound}
)

// transitions is the whole state machine; a pair missing here fails the test,
// so adding a state or a command forces a decision for every pair.
var transitions = map[application.Status]map[string]outcome{
	application.StatusNone: {
		"ReleaseClaim":      notFound,
		"SubmitApplication": ok(application.StatusSubmitted, schema.TypeApplicationSubmitted),
		"WithdrawConsent":   notFound, "EraseApplicantData": notFound,
		"ClaimForReview": notFound, "RequestInfo": notFound, "ProvideInfo": notFound, "Approve": notFound,
		"Reject": notFound, "IssuePolicy": notFound, "ChangeAddress": notFound, "Renew": notFound,
		"Withdraw": notFound, "ExpirePolicy": notFound, "RemindRenewal": notFound,
	},
	application.StatusSubmitted: {
		"ReleaseClaim":    conflict,
		"WithdrawConsent": ok(application.StatusWithdrawn, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		"SubmitApplication": conflict,
		"ClaimForReview":    ok(application.StatusInReview, schema.TypeApplicationClaimed),
		"RequestInfo":       conflict, "ProvideInfo": conflict, "Approve": conflict, "Reject": conflict,
		"IssuePolicy": conflict, "ChangeAddress": conflict, "Renew": conflict,
		"Withdraw":     ok(application.StatusWithdrawn, schema.TypeApplicationWithdrawn),
		"ExpirePolicy": conflict, "RemindRenewal": conflict,
	},
	application.StatusInReview: {
		"ReleaseClaim":    ok(application.StatusSubmitted, schema.TypeClaimReleased),
		"WithdrawConsent": ok(application.StatusWithdrawn, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		"SubmitApplication": conflict, "ClaimForReview": conflict,
		"RequestInfo": ok(application.StatusInfoRequested, schema.TypeInfoRequested),
		"ProvideInfo": conflict,
		"Approve":     ok(application.StatusApproved, schema.TypeApplicationApproved),
		"Reject":      ok(application.StatusRejected, schema.TypeApplicationRejected),
		"IssuePolicy": conflict, "ChangeAddress": conflict, "Renew": conflict,
		"Withdraw":     ok(application.StatusWithdrawn, schema.TypeApplicationWithdrawn),
		"ExpirePolicy": conflict, "RemindRenewal": conflict,
	},
	application.StatusInfoRequested: {
		// A reviewer lets go at any step they hold it at (decisions QA).
		"ReleaseClaim":    ok(application.StatusInfoRequested, schema.TypeClaimReleased),
		"WithdrawConsent": ok(application.StatusWithdrawn, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		"SubmitApplication": conflict, "ClaimForReview": conflict, "RequestInfo": conflict,
		"ProvideInfo": ok(application.StatusInReview, schema.TypeInfoProvided),
		"Approve":     conflict,
		"Reject":      ok(application.StatusRejected, schema.TypeApplicationRejected),
		"IssuePolicy": conflict, "ChangeAddress": conflict, "Renew": conflict,
		"Withdraw":     ok(application.StatusWithdrawn, schema.TypeApplicationWithdrawn),
		"ExpirePolicy": conflict, "RemindRenewal": conflict,
	},
	application.StatusApproved: {
		"ReleaseClaim":    ok(application.StatusApproved, schema.TypeClaimReleased),
		"WithdrawConsent": ok(application.StatusWithdrawn, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		// Approved is not yet insured: the reviewer may still ask (a
		// document ran out before issue) or refuse, the applicant withdraw.
		"SubmitApplication": conflict, "ClaimForReview": conflict,
		"RequestInfo": ok(application.StatusInfoRequested, schema.TypeInfoRequested),
		"ProvideInfo": conflict, "Approve": conflict,
		"Reject":        ok(application.StatusRejected, schema.TypeApplicationRejected),
		"IssuePolicy":   ok(application.StatusPolicyActive, schema.TypePolicyIssued),
		"ChangeAddress": conflict, "Renew": conflict,
		"Withdraw": ok(application.StatusWithdrawn, schema.TypeApplicationWithdrawn), "ExpirePolicy": conflict,
		"RemindRenewal": conflict,
	},
	application.StatusRejected: {
		"ReleaseClaim":    conflict,
		"WithdrawConsent": ok(application.StatusRejected, schema.TypeConsentWithdrawn), "EraseApplicantData": ok(application.StatusRejected, schema.TypeApplicantDataErased),
		"SubmitApplication": conflict, "ClaimForReview": conflict, "RequestInfo": conflict,
		"ProvideInfo": conflict, "Approve": conflict, "Reject": conflict, "IssuePolicy": conflict,
		"ChangeAddress": conflict, "Renew": conflict, "Withdraw": conflict, "ExpirePolicy": conflict,
		"RemindRenewal": conflict,
	},
	application.StatusWithdrawn: {
		"ReleaseClaim":    conflict,
		"WithdrawConsent": ok(application.StatusWithdrawn, schema.TypeConsentWithdrawn), "EraseApplicantData": ok(application.StatusWithdrawn, schema.TypeApplicantDataErased),
		"SubmitApplication": conflict, "ClaimForReview": conflict, "RequestInfo": conflict,
		"ProvideInfo": conflict, "Approve": conflict, "Reject": conflict, "IssuePolicy": conflict,
		"ChangeAddress": conflict, "Renew": conflict, "Withdraw": conflict, "ExpirePolicy": conflict,
		"RemindRenewal": conflict,
	},
	application.StatusPolicyActive: {
		"ReleaseClaim":    conflict,
		"WithdrawConsent": ok(application.StatusPolicyActive, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		"SubmitApplication": conflict, "ClaimForReview": conflict, "RequestInfo": conflict,
		"ProvideInfo": conflict, "Approve": conflict, "Reject": conflict, "IssuePolicy": conflict,
		"ChangeAddress": ok(application.StatusPolicyActive, schema.TypeAddressChanged),
		"Renew":         ok(application.StatusPolicyActive, schema.TypePolicyRenewed),
		"Withdraw":      conflict,
		"ExpirePolicy":  ok(application.StatusPolicyExpired, schema.TypePolicyExpired),
		"RemindRenewal": ok(application.StatusPolicyActive, schema.TypeRenewalDue),
	},
	application.StatusPolicyExpired: {
		"ReleaseClaim":    conflict,
		"WithdrawConsent": ok(application.StatusPolicyExpired, schema.TypeConsentWithdrawn), "EraseApplicantData": conflict,
		"SubmitApplication": conflict, "ClaimForReview": conflict, "RequestInfo": conflict,
		"ProvideInfo": conflict, "Approve": conflict, "Reject": conflict, "IssuePolicy": conflict,
		"ChangeAddress": conflict,
		"Renew":         ok(application.StatusPolicyActive, schema.TypePolicyRenewed),
		"Withdraw":      conflict, "ExpirePolicy": conflict, "RemindRenewal": conflict,
	},
}

// TestEveryStateAndCommand is the given-when-then table over every
// (state × command) pair: given the history of a state, when the command's
// usual issuer sends a valid command, then it emits the listed events and
// folds into the next state, or is refused with the listed kind.
func TestEveryStateAndCommand(t *testing.T) {
	states := append([]application.Status{application.StatusNone}, application.Statuses...)
	pairs := 0
	for _, st := range states {
		for _, w := range commands() {
			name := w.cmd.Name()
			t.Run(string(orNone(st))+"/"+name, func(t *testing.T) {
				want, listed := transitions[st][name]
				if !listed {
					t.Fatalf("no expected outcome for %s in %q", name, st)
				}
				given := history(st)
				s := application.Fold(given...)
				if s.Status != st {
					t.Fatalf("given history folds to %q, want %q", s.Status, st)
				}
				got, err := application.Decide(s, w.cmd, env(w.caller, w.at))
				if want.refuse != 0 {
					e, isCmd := cmderr.As(err)
					if !isCmd || e.Kind != want.refuse {
						t.Fatalf("want refusal %v, got events %v, err %v", want.refuse, types(got), err)
					}
					if e.Message.RU == "" || e.Message.EN == "" {
						t.Errorf("refusal without a bilingual reason: %+v", e)
					}
					return
				}
				if err != nil {
					t.Fatalf("want %v, got %v", want.events, err)
				}
				if !slices.Equal(types(got), want.events) {
					t.Fatalf("events %v, want %v", types(got), want.events)
				}
				if next := application.Fold(append(given, got...)...); next.Status != want.next {
					t.Errorf("next state %q, want %q", next.Status, want.next)
				}
			})
			pairs++
		}
	}
	if want := 9 * 15; pairs != want {
		t.Errorf("%d pairs, want %d", pairs, want)
	}
}

func orNone(s application.Status) application.Status {
	if s == "" {
		return "none"
	}
	return s
}

// allowedState is a state in which each command is allowed.
var allowedState = map[string]application.Status{
	"SubmitApplication":  application.StatusNone,
	"ClaimForReview":     application.StatusSubmitted,
	"ReleaseClaim":       application.StatusInReview,
	"RequestInfo":        application.StatusInReview,
	"ProvideInfo":        application.StatusInfoRequested,
	"Approve":            application.StatusInReview,
	"Reject":             application.StatusInReview,
	"IssuePolicy":        application.StatusApproved,
	"ChangeAddress":      application.StatusPolicyActive,
	"Renew":              application.StatusPolicyActive,
	"Withdraw":           application.StatusSubmitted,
	"ExpirePolicy":       application.StatusPolicyActive,
	"RemindRenewal":      application.StatusPolicyActive,
	"WithdrawConsent":    application.StatusSubmitted,
	"EraseApplicantData": application.StatusRejected,
}

// TestWhoMayIssue checks every command against every kind of caller in a
// state that allows the command: the wrong role and another reviewer get
// Forbidden, another applicant (or an operator for one) NotFound, as for
// an application they cannot see, and nobody else is refused.
func TestWhoMayIssue(t *testing.T) {
	callers := map[string]application.Caller{
		"owner": asOwner, "other-applicant": asOther, "operator-for-owner": asOperator,
		"operator-alone": asLoneOp, "operator-for-other": asOtherOp, "reviewer": asReviewer,
		"other-reviewer": asReviewer2, "auditor": asAuditor, "admin": asAdmin, "system": asSystem,
	}
	allowed := map[string][]string{
		"SubmitApplication":  {"owner", "other-applicant", "operator-for-owner", "operator-for-other"},
		"ClaimForReview":     {"reviewer", "other-reviewer"},
		"ReleaseClaim":       {"reviewer", "admin"},
		"RequestInfo":        {"reviewer"},
		"ProvideInfo":        {"owner", "operator-for-owner"},
		"Approve":            {"reviewer"},
		"Reject":             {"reviewer"},
		"IssuePolicy":        {"reviewer", "other-reviewer"},
		"ChangeAddress":      {"owner", "operator-for-owner"},
		"Renew":              {"owner", "operator-for-owner"},
		"Withdraw":           {"owner", "operator-for-owner"},
		"ExpirePolicy":       {"system"},
		"RemindRenewal":      {"system"},
		"WithdrawConsent":    {"owner", "operator-for-owner"},
		"EraseApplicantData": {"admin"},
	}
	for _, w := range commands() {
		name := w.cmd.Name()
		for who, c := range callers {
			t.Run(name+"/"+who, func(t *testing.T) {
				s := application.Fold(history(allowedState[name])...)
				_, err := application.Decide(s, w.cmd, env(c, w.at))
				forbidden := cmderr.Is(err, cmderr.Forbidden) || cmderr.Is(err, cmderr.NotFound)
				if may := slices.Contains(allowed[name], who); may == forbidden {
					t.Fatalf("allowed=%v, got %v", may, err)
				}
				// Whoever's role may give the command to their own
				// application is told someone else's does not exist.
				peer := map[string]string{"other-applicant": "owner", "operator-for-other": "operator-for-owner"}[who]
				if peer != "" && slices.Contains(allowed[name], peer) && !slices.Contains(allowed[name], who) && !cmderr.Is(err, cmderr.NotFound) {
					t.Fatalf("someone else's application answers %v, not 404: that tells it exists", err)
				}
				if !forbidden && err != nil && !cmderr.Is(err, cmderr.Validation) {
					// A permitted caller may still send fields that do not fit
					// (another applicant's scans), but nothing else.
					t.Fatalf("unexpected refusal: %v", err)
				}
			})
		}
	}
}

func TestAutoIssueApprovesAndIssuesInOneDecision(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	e := env(asReviewer, now)
	e.Config.AutoIssue = true
	if _, err := application.Decide(s, application.Approve{}, e); err == nil || cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("auto-issue without an ЕНП must be a programming error, got %v", err)
	}
	evs, err := application.Decide(s, application.Approve{ENP: testENP}, e)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types(evs), []string{schema.TypeApplicationApproved, schema.TypePolicyIssued}) {
		t.Fatalf("events %v", types(evs))
	}
	if a := evs[0].(schema.ApplicationApproved); !a.WithPolicy {
		t.Errorf("the approval does not say the policy comes with it: %+v", a)
	}
	p := evs[1].(schema.PolicyIssued)
	if !p.Automatic || p.ENP != testENP || p.ValidFrom != "2026-03-10" || p.ValidTo != "2027-03-09" || p.Region != "77" {
		t.Errorf("policy %+v", p)
	}
	if p.Document != (schema.PolicyDocument{Number: testENP + "-01", Version: 1, IssuedAt: "2026-03-10"}) {
		t.Errorf("document %+v", p.Document)
	}
	if st := application.Fold(append(history(application.StatusInReview), evs...)...); st.Status != application.StatusPolicyActive {
		t.Errorf("status %q", st.Status)
	}
	if !application.NeedsENP(application.Approve{}, e.Config) || application.NeedsENP(application.Approve{}, application.Config{}) {
		t.Error("NeedsENP disagrees with AutoIssue")
	}
}

func TestValidityIsCappedByTheResidenceDocument(t *testing.T) {
	given := history(application.StatusApproved)
	sub := given[0].(schema.ApplicationSubmitted)
	sub.ResidenceDocument.ExpiresAt = "2026-09-30"
	given[0] = sub
	evs, err := application.Decide(application.Fold(given...), application.IssuePolicy{ENP: testENP}, env(asReviewer, now))
	if err != nil {
		t.Fatal(err)
	}
	if p := evs[0].(schema.PolicyIssued); p.ValidTo != "2026-09-30" {
		t.Errorf("validTo %s, want the РВП's expiry", p.ValidTo)
	}

	// A longer configured term still ends with the permit.
	e := env(asReviewer, now)
	e.Config.PolicyTermMonths = 6
	evs, _ = application.Decide(application.Fold(history(application.StatusApproved)...), application.IssuePolicy{ENP: testENP}, e)
	if p := evs[0].(schema.PolicyIssued); p.ValidTo != "2026-09-09" {
		t.Errorf("6-month term ends %s", p.ValidTo)
	}

	// An expired residence document blocks issuing with a conflict.
	sub.ResidenceDocument.ExpiresAt = "2026-03-01"
	given[0] = sub
	if _, err := application.Decide(application.Fold(given...), application.IssuePolicy{ENP: testENP}, env(asReviewer, now)); !cmderr.Is(err, cmderr.Conflict) {
		t.Errorf("expired residence: %v", err)
	}
	if _, err := application.Decide(application.Fold(given...), application.IssuePolicy{ENP: "1234567890123456"}, env(asReviewer, now)); err == nil {
		t.Error("an invalid ЕНП was accepted")
	}
}

func TestChangeAddressReissuesTheDocument(t *testing.T) {
	given := history(application.StatusPolicyActive)
	evs, err := application.Decide(application.Fold(given...), application.ChangeAddress{Address: newAddress}, env(asOperator, now))
	if err != nil {
		t.Fatal(err)
	}
	a := evs[0].(schema.AddressChanged)
	if a.ENP != testENP || a.ValidFrom != "2025-03-20" || a.ValidTo != "2026-03-19" {
		t.Errorf("ЕНП or validity changed: %+v", a)
	}
	if a.Document != (schema.PolicyDocument{Number: testENP + "-02", Version: 2, IssuedAt: "2026-03-10"}) {
		t.Errorf("document %+v", a.Document)
	}
	s := application.Fold(append(given, a)...)
	if s.Form.Address != newAddress || s.Document.Version != 2 || s.ENP != testENP {
		t.Errorf("state %+v", s)
	}
	// The same address again, and an invalid one.
	_, err = application.Decide(s, application.ChangeAddress{Address: newAddress}, env(asOwner, now))
	assertFields(t, err, "/address:unchanged")
	// ... however its letters' case and its spaces were typed.
	retyped := newAddress
	retyped.City, retyped.Street = strings.ToUpper(newAddress.City), "  "+strings.ReplaceAll(newAddress.Street, " ", "   ")+" "
	_, err = application.Decide(s, application.ChangeAddress{Address: retyped}, env(asOwner, now))
	assertFields(t, err, "/address:unchanged")
	// ... and one stored with its spaces as typed, before they were
	// collapsed, is the same address typed again as it was.
	old := s
	old.Form.Address.Street = "Невский  пр."
	_, err = application.Decide(old, application.ChangeAddress{Address: old.Form.Address}, env(asOwner, now))
	assertFields(t, err, "/address:unchanged")
	// ... and one whose letters come decomposed (ё as е and a mark), as
	// macOS types them, both ways round.
	withYo := s
	withYo.Form.Address.Street = "ул. Алёшина"
	decomposed := withYo.Form.Address
	decomposed.Street = "ул. Але\u0308шина"
	_, err = application.Decide(withYo, application.ChangeAddress{Address: decomposed}, env(asOwner, now))
	assertFields(t, err, "/address:unchanged")
	old.Form.Address = decomposed
	_, err = application.Decide(old, application.ChangeAddress{Address: withYo.Form.Address}, env(asOwner, now))
	assertFields(t, err, "/address:unchanged")
	_, err = application.Decide(s, application.ChangeAddress{Address: schema.Address{Region: "7", City: "X", Street: "Y", House: "1", PostalCode: "12345"}}, env(asOwner, now))
	assertFields(t, err, "/address/region:format", "/address/postalCode:format")
	// After validTo (but before the scheduler expired it) the policy is over.
	_, err = application.Decide(s, application.ChangeAddress{Address: schema.Address{Region: "50", City: "Химки", Street: "Ленина", House: "1", PostalCode: "141400"}}, env(asOwner, now.AddDate(0, 0, 10)))
	if e, _ := cmderr.As(err); e == nil || e.Code != "policy_expired" {
		t.Errorf("after validTo: %v", err)
	}
}

func TestRenew(t *testing.T) {
	active := application.Fold(history(application.StatusPolicyActive)...)

	t.Run("too early", func(t *testing.T) {
		_, err := application.Decide(active, application.Renew{}, env(asOwner, time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)))
		e, _ := cmderr.As(err)
		if e == nil || e.Kind != cmderr.Conflict || e.Code != "renewal_too_early" || !strings.Contains(e.Message.EN, "17 Feb 2026") || !strings.Contains(e.Message.RU, "17.02.2026") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("window opens 30 days before", func(t *testing.T) {
		evs, err := application.Decide(active, application.Renew{}, env(asOwner, time.Date(2026, 2, 17, 9, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Fatal(err)
		}
		r := evs[0].(schema.PolicyRenewed)
		// No gap and no overlap with the running term.
		if r.ValidFrom != "2026-03-20" || r.ValidTo != "2027-03-19" || r.ENP != testENP || r.Document.Version != 2 {
			t.Errorf("%+v", r)
		}
		// Between the renewal and the old term's end the person is
		// insured from the first term's start: a new address then is
		// recorded with that whole span, not "valid from" a date to come.
		moved, err := application.Decide(application.Evolve(active, r), application.ChangeAddress{Address: newAddress}, env(asOwner, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Fatal(err)
		}
		if a := moved[0].(schema.AddressChanged); a.ValidFrom != "2025-03-20" || a.ValidTo != "2027-03-19" || a.Document.Version != 3 {
			t.Errorf("address changed after an early renewal: %+v", a)
		}
	})
	t.Run("after expiry starts today", func(t *testing.T) {
		expired := application.Fold(history(application.StatusPolicyExpired)...)
		evs, err := application.Decide(expired, application.Renew{}, env(asOwner, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Fatal(err)
		}
		if r := evs[0].(schema.PolicyRenewed); r.ValidFrom != "2026-05-01" || r.ValidTo != "2027-04-30" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("needs a residence document valid past today", func(t *testing.T) {
		given := history(application.StatusPolicyExpired)
		sub := given[0].(schema.ApplicationSubmitted)
		sub.ResidenceDocument.ExpiresAt = "2026-05-01"
		given[0] = sub
		s := application.Fold(given...)
		at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		_, err := application.Decide(s, application.Renew{}, env(asOwner, at))
		assertFields(t, err, "/residenceDocument:required")

		vnzh := schema.ResidenceDocument{Type: schema.ResidenceVNZh, Series: "82", Number: "1234567", IssuedAt: "2026-04-20"}
		_, err = application.Decide(s, application.Renew{ResidenceDocument: &vnzh}, env(asOwner, at))
		assertFields(t, err, "/documents:missing_scan")
		// The scan on file is of the document running out (QA).
		_, err = application.Decide(s, application.Renew{ResidenceDocument: &vnzh, Documents: []schema.DocumentRef{{Kind: schema.DocumentResidence, ID: "doc-residence"}}}, env(asOwner, at))
		assertFields(t, err, "/documents/0/id:already_attached")

		evs, err := application.Decide(s, application.Renew{ResidenceDocument: &vnzh, Documents: []schema.DocumentRef{{Kind: schema.DocumentResidence, ID: "doc-residence2"}}}, env(asOwner, at))
		if err != nil {
			t.Fatal(err)
		}
		r := evs[0].(schema.PolicyRenewed)
		if r.ResidenceDocument.Type != schema.ResidenceVNZh || r.ValidTo != "2027-04-30" || len(r.Documents) != 3 || r.Documents[1].ID != "doc-residence2" {
			t.Errorf("%+v", r)
		}
		if st := application.Fold(append(given, r)...); st.Form.ResidenceDocument != vnzh || st.Status != application.StatusPolicyActive {
			t.Errorf("state %+v", st)
		}
	})
	// A refused expiry names the first date that would do, and that
	// date does (QA: "beyond 21 Dec" while one ending on 21 Dec was taken).
	t.Run("the refusal names the least expiry taken", func(t *testing.T) {
		scan := []schema.DocumentRef{{Kind: schema.DocumentResidence, ID: "doc-residence2"}}
		rvp := func(exp string) *schema.ResidenceDocument {
			return &schema.ResidenceDocument{Type: schema.ResidenceRVP, Series: "82", Number: "7654321", IssuedAt: "2026-01-20", ExpiresAt: exp}
		}
		expired := application.Fold(history(application.StatusPolicyExpired)...)
		for name, tc := range map[string]struct {
			s             application.State
			at            time.Time
			before, least string
			ru, en        string
		}{
			// The running term ends 19 Mar: the new one starts on the 20th.
			"active":  {active, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "2026-03-19", "2026-03-20", "по 20.03.2026 включительно", "through 20 Mar 2026"},
			"expired": {expired, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), "2026-05-01", "2026-05-02", "по 02.05.2026 включительно", "through 2 May 2026"},
		} {
			_, err := application.Decide(tc.s, application.Renew{ResidenceDocument: rvp(tc.before), Documents: scan}, env(asOwner, tc.at))
			e, _ := cmderr.As(err)
			if e == nil || len(e.Fields) != 1 || e.Fields[0].Code != "expires_too_soon" || !strings.Contains(e.Fields[0].Message.RU, tc.ru) || !strings.Contains(e.Fields[0].Message.EN, tc.en) {
				t.Errorf("%s, expiring %s: %v, want expires_too_soon naming %s", name, tc.before, err, tc.least)
				continue
			}
			evs, err := application.Decide(tc.s, application.Renew{ResidenceDocument: rvp(tc.least), Documents: scan}, env(asOwner, tc.at))
			if err != nil {
				t.Errorf("%s, expiring %s, the date the refusal named: %v", name, tc.least, err)
			} else if r := evs[0].(schema.PolicyRenewed); r.ValidTo != tc.least {
				t.Errorf("%s: the term ends %s, want %s (the document's end)", name, r.ValidTo, tc.least)
			}
		}
	})
}

// A policy is not renewed on an expired passport, as it was not issued on
// one; the renewal is where the holder gives the new passport, with its
// scan, and the new one is what the policy names from then on (lifecycle
// QA: a renewal went through on a passport expired for months, and there
// was no way to give a new one).
func TestRenewOnANewPassport(t *testing.T) {
	given := passportExpired(history(application.StatusPolicyActive))
	sub := given[0].(schema.ApplicationSubmitted)
	s := application.Fold(given...)
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	_, err := application.Decide(s, application.Renew{}, env(asOwner, at))
	if e, _ := cmderr.As(err); e == nil || e.Code != "identity_expired" || !strings.Contains(e.Message.RU, "скан") || e.Message.EN == "" {
		t.Fatalf("renewal on an expired passport: %v", err)
	}
	passport := newPassport
	_, err = application.Decide(s, application.Renew{IdentityDocument: &passport}, env(asOwner, at))
	assertFields(t, err, "/documents:missing_scan")
	_, err = application.Decide(s, application.Renew{IdentityDocument: &passport, Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "doc-passport"}}}, env(asOwner, at))
	assertFields(t, err, "/documents/0/id:already_attached")
	evs, err := application.Decide(s, application.Renew{IdentityDocument: &passport, Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "doc-passport2"}}}, env(asOwner, at))
	if err != nil {
		t.Fatal(err)
	}
	r := evs[0].(schema.PolicyRenewed)
	if r.IdentityDocument == nil || r.IdentityDocument.Number != "7654321" || r.ValidFrom != "2026-03-20" {
		t.Fatalf("%+v", r)
	}
	if st := application.Fold(append(given, r)...); st.Form.IdentityDocument.Number != "7654321" || st.Form.Applicant.LastName != sub.Form.Applicant.LastName {
		t.Fatalf("state after the renewal: %+v", st.Form.IdentityDocument)
	}
	// A renewal that gives none leaves the passport on file in the event
	// as it was: nil, not a copy.
	evs, err = application.Decide(application.Fold(history(application.StatusPolicyActive)...), application.Renew{}, env(asOwner, at))
	if err != nil || evs[0].(schema.PolicyRenewed).IdentityDocument != nil {
		t.Fatalf("a renewal without a new passport: %v %v", evs, err)
	}
}

// Consent withdrawn on an issued policy is given again by a renewal that
// brings a newly signed consent; without one the refusal says so
// (lifecycle QA: the holder was locked out for good, told to visit the
// insurer, whose staff could do nothing either).
func TestRenewGivesTheConsentAgain(t *testing.T) {
	given := append(history(application.StatusPolicyActive), schema.ConsentWithdrawn{ApplicationID: appID, WithdrawnAt: now, RetainUntil: "2031-03-19"})
	s := application.Fold(given...)
	_, err := application.Decide(s, application.Renew{}, env(asOwner, now))
	if e, _ := cmderr.As(err); e == nil || e.Code != "consent_withdrawn" || !strings.Contains(e.Message.RU, "подпишите согласие заново") {
		t.Fatalf("renewal without a new consent: %v", err)
	}
	evs, err := application.Decide(s, application.Renew{Documents: []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-consent2"}}}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	r := evs[0].(schema.PolicyRenewed)
	if r.ConsentDocument == nil || r.ConsentDocument.DocumentID != "doc-consent2" {
		t.Fatalf("%+v", r)
	}
	after := application.Fold(append(given, r)...)
	if after.ConsentWithdrawn {
		t.Fatal("consent still withdrawn after it was signed again")
	}
	if _, err := application.Decide(after, application.ChangeAddress{Address: newAddress}, env(asOwner, now)); err != nil {
		t.Fatalf("a new address after the consent was given again: %v", err)
	}
}

func TestExpireOnlyAfterValidity(t *testing.T) {
	s := application.Fold(history(application.StatusPolicyActive)...)
	_, err := application.Decide(s, application.ExpirePolicy{}, env(asSystem, time.Date(2026, 3, 19, 20, 0, 0, 0, time.UTC)))
	if e, _ := cmderr.As(err); e == nil || e.Code != "not_yet_expired" {
		t.Fatalf("on the last day: %v", err)
	}
	// 21:00 UTC on the 19th is already the 20th in Moscow.
	evs, err := application.Decide(s, application.ExpirePolicy{}, env(asSystem, time.Date(2026, 3, 19, 21, 0, 0, 0, time.UTC)))
	if err != nil || evs[0].(schema.PolicyExpired).ValidTo != "2026-03-19" {
		t.Fatalf("%v %v", evs, err)
	}
}

func TestRequestAndProvideInfo(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	_, err := application.Decide(s, application.RequestInfo{}, env(asReviewer, now))
	assertFields(t, err, "/questions:required")
	_, err = application.Decide(s, application.RequestInfo{Questions: []application.QuestionInput{{Text: "", Field: "/nope", DocumentKind: "selfie"}}}, env(asReviewer, now))
	assertFields(t, err, "/questions/0/text:required", "/questions/0/field:unknown_field", "/questions/0/documentKind:not_allowed")
	// The consent's version is the service's to set, not the applicant's
	// to correct (decisions QA).
	_, err = application.Decide(s, application.RequestInfo{Questions: []application.QuestionInput{{Text: "Какая версия?", Field: "/consentVersion"}}}, env(asReviewer, now))
	assertFields(t, err, "/questions/0/field:unknown_field")

	evs, err := application.Decide(s, application.RequestInfo{Questions: []application.QuestionInput{
		{Text: "Уточните дату выдачи РВП", Field: "/residenceDocument/issuedAt"},
		{Text: "Пришлите согласие с подписью", DocumentKind: schema.DocumentConsent},
		{Text: "Где вы работаете?"},
	}}, env(asReviewer, now))
	if err != nil {
		t.Fatal(err)
	}
	q := evs[0].(schema.InfoRequested).Questions
	if len(q) != 3 || q[0].ID != "1.1" || q[2].ID != "1.3" {
		t.Fatalf("questions %+v", q)
	}
	asked := application.Fold(append(history(application.StatusInReview), evs...)...)

	// Nothing answered: every question is named.
	_, err = application.Decide(asked, application.ProvideInfo{}, env(asOwner, now))
	assertFields(t, err, "/answers:unanswered", "/answers:unanswered", "/answers:unanswered")

	// A corrected field, a new scan and a text answer each settle a question;
	// a corrected section that is now invalid points into /corrections.
	res := validForm().ResidenceDocument
	res.IssuedAt = "2025-01-11"
	bad := res
	bad.Number = "12"
	_, err = application.Decide(asked, application.ProvideInfo{
		Corrections: schema.Corrections{ResidenceDocument: &bad},
		Documents:   []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-foreign"}},
		Answers:     []schema.Answer{{QuestionID: "9.9", Text: "?"}, {QuestionID: "1.3", Text: "ООО «Ромашка»"}},
	}, env(asOwner, now))
	assertFields(t, err, "/corrections/residenceDocument/number:format", "/documents/0/id:unknown_document", "/answers/0/questionId:unknown_question", "/answers:unanswered")

	// Two answers to one question: refused, not one of them dropped.
	_, err = application.Decide(asked, application.ProvideInfo{
		Corrections: schema.Corrections{ResidenceDocument: &res},
		Documents:   []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-consent2"}},
		Answers:     []schema.Answer{{QuestionID: "1.3", Text: "ООО «Ромашка»"}, {QuestionID: "1.3", Text: "ООО «Лютик»"}},
	}, env(asOwner, now))
	assertFields(t, err, "/answers/1/questionId:duplicate")

	// The scan already on file, sent again, is not the new one the
	// question asked for (QA), and the refusal says so at the scan.
	_, err = application.Decide(asked, application.ProvideInfo{
		Corrections: schema.Corrections{ResidenceDocument: &res},
		Documents:   []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-consent"}},
		Answers:     []schema.Answer{{QuestionID: "1.3", Text: "ООО «Ромашка»"}},
	}, env(asOwner, now))
	assertFields(t, err, "/answers:unanswered", "/documents/0/id:already_attached")

	evs, err = application.Decide(asked, application.ProvideInfo{
		Corrections: schema.Corrections{ResidenceDocument: &res},
		Documents:   []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-consent2"}},
		Answers:     []schema.Answer{{QuestionID: "1.3", Text: "ООО «Ромашка»"}},
	}, env(asOperator, now))
	if err != nil {
		t.Fatal(err)
	}
	p := evs[0].(schema.InfoProvided)
	if len(p.Documents) != 3 || len(p.NewDocuments) != 1 || p.NewDocuments[0].SHA256 != "sha-doc-consent2" {
		t.Errorf("documents %+v", p)
	}
	after := application.Fold(append(history(application.StatusInReview), evs[0])...)
	if after.Form.ResidenceDocument.IssuedAt != "2025-01-11" || after.Questions != nil || after.Status != application.StatusInReview {
		t.Errorf("state %+v", after)
	}
}

func TestRejectNeedsReason(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	_, err := application.Decide(s, application.Reject{ReasonCode: "because"}, env(asReviewer, now))
	assertFields(t, err, "/reasonCode:not_allowed", "/reason:required")
	// A reason a person cannot see is no reason.
	_, err = application.Decide(s, application.Reject{ReasonCode: "other", Reason: "\u200d "}, env(asReviewer, now))
	assertFields(t, err, "/reason:required")
	_, err = application.Decide(s, application.Reject{ReasonCode: "other", Reason: "\u200b"}, env(asReviewer, now))
	assertFields(t, err, "/reason:required")
	_, err = application.Decide(s, application.Reject{ReasonCode: "other", Reason: "Подделка\u202e"}, env(asReviewer, now))
	assertFields(t, err, "/reason:invalid_characters")
}

// "No response to the request" is a fact about an open request: rejecting
// with it an application whose applicant had answered, or who was never
// asked, told them they had not replied when they had (QA).
func TestRejectForNoResponseOnlyWhileARequestIsOpen(t *testing.T) {
	reject := application.Reject{ReasonCode: schema.RejectNoResponse, Reason: "Вы не ответили на вопросы."}
	for _, status := range []application.Status{application.StatusInReview, application.StatusApproved} {
		s := application.Fold(history(status)...)
		_, err := application.Decide(s, reject, env(asReviewer, now))
		assertFields(t, err, "/reasonCode:no_open_request")
		if e, _ := cmderr.As(err); e == nil || !strings.Contains(e.Fields[0].Message.RU, "не ждёт ответа") || !strings.Contains(e.Fields[0].Message.EN, "no request") {
			t.Errorf("%s: %v", status, err)
		}
	}
	// Asked on Monday 2026-03-09 (a day off for 8 March), recorded before
	// the term existed: ten working days from the next day run to Monday
	// the 23rd, and only after that is there no response.
	s := application.Fold(history(application.StatusInfoRequested)...)
	msk := time.FixedZone("MSK", 3*3600)
	for _, at := range []time.Time{now, time.Date(2026, 3, 23, 23, 59, 0, 0, msk)} {
		_, err := application.Decide(s, reject, env(asReviewer, at))
		assertFields(t, err, "/reasonCode:answer_term_running")
		if e, _ := cmderr.As(err); e == nil || !strings.Contains(e.Fields[0].Message.RU, "до 23.03.2026 включительно") || !strings.Contains(e.Fields[0].Message.EN, "until 23 Mar 2026 inclusive") {
			t.Errorf("at %v: %v", at, err)
		}
	}
	evs, err := application.Decide(s, reject, env(asReviewer, time.Date(2026, 3, 24, 0, 0, 0, 0, msk)))
	if err != nil {
		t.Fatal(err)
	}
	if r := evs[0].(schema.ApplicationRejected); r.ReasonCode != schema.RejectNoResponse {
		t.Errorf("rejected with %q", r.ReasonCode)
	}
}

// A request tells the applicant the last day to answer it, counted in
// working days from the next day (the term is configurable), and a
// refusal for no response holds to the day it told.
func TestAnInfoRequestSetsTheAnswerTerm(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	ask := application.RequestInfo{Questions: []application.QuestionInput{{Text: "Уточните город", Field: "/address/city"}}}
	for _, c := range []struct {
		days int
		want string
	}{
		{0, "2026-03-24"}, // the default 10, from Tuesday the 10th
		{3, "2026-03-13"},
		{5, "2026-03-17"}, // over a weekend
	} {
		e := env(asReviewer, now)
		e.Config.AnswerTermDays = c.days
		evs, err := application.Decide(s, ask, e)
		if err != nil {
			t.Fatal(err)
		}
		asked := evs[0].(schema.InfoRequested)
		if asked.AnswerBy != c.want {
			t.Errorf("%d days: answer by %q, want %q", c.days, asked.AnswerBy, c.want)
		}
		if c.days != 3 {
			continue
		}
		// The term recorded stands, whatever the setting is later.
		later := application.Evolve(s, asked)
		_, err = application.Decide(later, application.Reject{ReasonCode: schema.RejectNoResponse, Reason: "Нет ответа."}, env(asReviewer, time.Date(2026, 3, 13, 21, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Errorf("on the 14th in Moscow, past a 3-day term: %v", err)
		}
	}
}

func TestClaimTwice(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	for _, c := range []application.Caller{asReviewer, asReviewer2} {
		_, err := application.Decide(s, application.ClaimForReview{}, env(c, now))
		if e, _ := cmderr.As(err); e == nil || e.Code != "already_claimed" {
			t.Errorf("%s: %v", c.ID, err)
		}
	}
}

func TestDecideIsDeterministic(t *testing.T) {
	decide := func() schema.ApplicationSubmitted {
		evs, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: validForm()}, env(asOwner, now))
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].(schema.ApplicationSubmitted)
	}
	a, b := decide(), decide()
	if a.ApplicationID != b.ApplicationID || !slices.Equal(a.Documents, b.Documents) || !a.SubmittedAt.Equal(b.SubmittedAt) || a.Applicant != b.Applicant {
		t.Fatal("two identical decisions differ")
	}
}

func TestRemindRenewalOncePerTerm(t *testing.T) {
	s := application.Fold(history(application.StatusPolicyActive)...)
	evs, err := application.Decide(s, application.RemindRenewal{}, env(asSystem, now))
	if err != nil || len(evs) != 1 {
		t.Fatalf("first reminder: %v %v", evs, err)
	}
	s2 := application.Evolve(s, evs[0])
	if _, err := application.Decide(s2, application.RemindRenewal{}, env(asSystem, now)); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("second reminder of the same term: %v", err)
	}
	// After a renewal the new term gets its own reminder, but not before
	// its window opens.
	renewed, err := application.Decide(s2, application.Renew{}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	s3 := application.Evolve(s2, renewed[0])
	if _, err := application.Decide(s3, application.RemindRenewal{}, env(asSystem, now)); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("reminder right after renewal: %v", err)
	}
	late, _ := time.Parse(time.DateOnly, s3.ValidTo)
	if _, err := application.Decide(s3, application.RemindRenewal{}, env(asSystem, late.AddDate(0, 0, -10))); err != nil {
		t.Fatalf("reminder in the new term's window: %v", err)
	}
	// On the term's last day it is still due; the day after, the term has
	// ended and only the expiry is (time QA: a late scheduler reminded
	// after the end).
	if _, err := application.Decide(s3, application.RemindRenewal{}, env(asSystem, late.Add(12*time.Hour))); err != nil {
		t.Fatalf("reminder on the term's last day: %v", err)
	}
	_, err = application.Decide(s3, application.RemindRenewal{}, env(asSystem, late.AddDate(0, 0, 1).Add(12*time.Hour)))
	if !cmderr.Is(err, cmderr.Conflict) || !strings.Contains(err.Error(), "term_ended") {
		t.Fatalf("reminder the day after the term: %v", err)
	}
}

// TestReviewerCannotDecideOwnCase: a reviewer whose subject is the
// application's applicant, or who submitted it for someone, is refused every
// reviewer action on it, in every state where the action would otherwise be
// allowed, while another reviewer is not.
func TestReviewerCannotDecideOwnCase(t *testing.T) {
	actions := []struct {
		cmd  application.Command
		from application.Status
	}{
		{application.ClaimForReview{}, application.StatusSubmitted},
		{application.RequestInfo{Questions: []application.QuestionInput{{Text: "Уточните город"}}}, application.StatusInReview},
		{application.Approve{}, application.StatusInReview},
		{application.Reject{ReasonCode: schema.RejectOther, Reason: "x"}, application.StatusInReview},
		{application.Reject{ReasonCode: schema.RejectOther, Reason: "x"}, application.StatusInfoRequested},
		{application.IssuePolicy{ENP: testENP}, application.StatusApproved},
	}
	for _, a := range actions {
		base := application.Fold(history(a.from)...)
		// The reviewer is the applicant (the same subject signed in with
		// both roles), or the МФЦ-side account that submitted it.
		asApplicant := base
		asApplicant.ApplicantID = reviewer
		asSubmitter := base
		asSubmitter.SubmittedBy = reviewer
		for name, s := range map[string]application.State{"applicant": asApplicant, "submitter": asSubmitter} {
			_, err := application.Decide(s, a.cmd, env(asReviewer, now))
			e, ok := cmderr.As(err)
			if !ok || e.Kind != cmderr.Forbidden || e.Code != "own_application" || e.Message.RU == "" || e.Message.EN == "" {
				t.Errorf("%s in %s by the reviewer as %s: %v, want 403 own_application", a.cmd.Name(), a.from, name, err)
			}
		}
		if _, err := application.Decide(base, a.cmd, env(asReviewer, now)); err != nil {
			t.Errorf("%s in %s by an unrelated reviewer: %v", a.cmd.Name(), a.from, err)
		}
	}
}

// A refusal in the wrong state names the status in both languages the
// same way: quoted, with the statuses that would allow the command.
func TestWrongStateReadsInBothLanguages(t *testing.T) {
	s := application.Fold(history(application.StatusPolicyActive)...)
	_, err := application.Decide(s, application.Withdraw{}, env(asOwner, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)))
	e, ok := cmderr.As(err)
	if !ok || e.Code != "wrong_state" {
		t.Fatalf("withdrawing an insured application: %v", err)
	}
	for _, want := range []string{"Cannot withdraw the application: the application's status is “policy active”.", "It is possible in the statuses “submitted”, “in review”, “information requested”, “approved”."} {
		if !strings.Contains(e.Message.EN, want) {
			t.Errorf("%q lacks %q", e.Message.EN, want)
		}
	}
	if !strings.Contains(e.Message.RU, "«полис действует»") {
		t.Errorf("%q does not name the status", e.Message.RU)
	}
}

// An administrator takes an application from a reviewer only saying why;
// the reviewer lets their own go without a word. Either way it goes back
// to the queue with nobody on it, and the reviewer it was with is named.
func TestReleaseClaim(t *testing.T) {
	s := application.Fold(history(application.StatusInReview)...)
	_, err := application.Decide(s, application.ReleaseClaim{}, env(asAdmin, now))
	if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.Validation || len(e.Fields) != 1 || e.Fields[0].Field != "/reason" {
		t.Fatalf("an administrator without a reason: %v", err)
	}
	evs, err := application.Decide(s, application.ReleaseClaim{}, env(asReviewer, now))
	if err != nil {
		t.Fatalf("the reviewer lets it go: %v", err)
	}
	rel, ok := evs[0].(schema.ClaimReleased)
	if !ok || rel.ReviewerID != asReviewer.ID || rel.ReleasedBy != asReviewer.ID {
		t.Fatalf("%+v", evs)
	}
	next := application.Fold(append(history(application.StatusInReview), evs...)...)
	if next.Status != application.StatusSubmitted || next.ReviewerID != "" {
		t.Fatalf("after the release: %s with %q", next.Status, next.ReviewerID)
	}
	if _, err := application.Decide(next, application.ClaimForReview{}, env(asReviewer2, now)); err != nil {
		t.Fatalf("another reviewer claims it: %v", err)
	}
}

// Refusals about a policy's dates write them as people do (27.11.2026,
// 27 Nov 2026), not as ISO dates.
func TestRefusalsWriteDatesForPeople(t *testing.T) {
	s := application.Fold(history(application.StatusPolicyActive)...)
	validTo, err := time.Parse(time.DateOnly, s.ValidTo)
	if err != nil {
		t.Fatal(err)
	}
	_, err = application.Decide(s, application.ChangeAddress{Address: newAddress}, env(asOwner, validTo.AddDate(0, 0, 3)))
	e, ok := cmderr.As(err)
	if !ok || e.Code != "policy_expired" {
		t.Fatalf("a change of address after the term: %v", err)
	}
	if !strings.Contains(e.Message.RU, validTo.Format("02.01.2006")) || !strings.Contains(e.Message.EN, validTo.Format("2 Jan 2006")) || strings.Contains(e.Message.RU+e.Message.EN, s.ValidTo) {
		t.Errorf("%q / %q", e.Message.RU, e.Message.EN)
	}
}

// A region code stored before the list of subjects came in does not stop
// the applicant from answering a question about something else; an
// address they correct is held to the list.
func TestStoredRegionDoesNotBlockAnAnswer(t *testing.T) {
	s := askedWithStored(func(f *schema.Form) { f.Address.Region = "88" })
	answer := []schema.Answer{{QuestionID: s.Questions[0].ID, Text: "Москва, верно"}}
	if _, err := application.Decide(s, application.ProvideInfo{Answers: answer}, env(asOwner, now)); err != nil {
		t.Errorf("answering with the stored region 88: %v", err)
	}
	corrected := s.Form.Address
	corrected.Street = "Новая"
	_, err := application.Decide(s, application.ProvideInfo{Answers: answer, Corrections: schema.Corrections{Address: &corrected}}, env(asOwner, now))
	assertFields(t, err, "/corrections/address/region:unknown_region")
}

// A residence document stored before its term was bounded does not stop
// an answer about something else; one the applicant corrects is held to
// the bound.
func TestStoredResidenceTermDoesNotBlockAnAnswer(t *testing.T) {
	s := askedWithStored(func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "2035-01-10" })
	answer := []schema.Answer{{QuestionID: s.Questions[0].ID, Text: "всё верно"}}
	if _, err := application.Decide(s, application.ProvideInfo{Answers: answer}, env(asOwner, now)); err != nil {
		t.Errorf("answering with the stored ten-year RVP: %v", err)
	}
	corrected := s.Form.ResidenceDocument
	corrected.Number = "3456780"
	_, err := application.Decide(s, application.ProvideInfo{Answers: answer, Corrections: schema.Corrections{ResidenceDocument: &corrected}}, env(asOwner, now))
	assertFields(t, err, "/corrections/residenceDocument/expiresAt:too_long")
}

// Information requests are bounded per application: each round stays in
// the views for good, and endless rounds took one past MongoDB's 16 MB
// document limit, stalling every projection (MongoDB QA). After ten the
// reviewer decides; the refusal says so in both languages.
func TestInformationRequestsAreBounded(t *testing.T) {
	evs := history(application.StatusInReview)
	for round := 1; round <= 10; round++ {
		s := application.Fold(evs...)
		asked, err := application.Decide(s, application.RequestInfo{Questions: []application.QuestionInput{{Text: "Уточните адрес"}}}, env(asReviewer, now))
		if err != nil {
			t.Fatalf("request %d: %v", round, err)
		}
		evs = append(evs, asked...)
		answered, err := application.Decide(application.Fold(evs...), application.ProvideInfo{
			Answers: []schema.Answer{{QuestionID: asked[0].(schema.InfoRequested).Questions[0].ID, Text: "Адрес верный"}}}, env(asOwner, now))
		if err != nil {
			t.Fatalf("answer %d: %v", round, err)
		}
		evs = append(evs, answered...)
	}
	s := application.Fold(evs...)
	_, err := application.Decide(s, application.RequestInfo{Questions: []application.QuestionInput{{Text: "Ещё вопрос"}}}, env(asReviewer, now))
	e, ok := cmderr.As(err)
	if !ok || e.Code != "too_many_info_requests" || e.Kind != cmderr.Conflict || !strings.Contains(e.Message.RU, "примите решение") || !strings.Contains(e.Message.EN, "decide") {
		t.Fatalf("an 11th request: %v", err)
	}
	approved, err := application.Decide(s, application.Approve{}, env(asReviewer, now))
	if err != nil {
		t.Fatalf("the decision after ten requests: %v", err)
	}
	// Once approved, what is left is to issue or reject (decisions QA: it
	// said to approve).
	_, err = application.Decide(application.Fold(append(evs, approved...)...), application.RequestInfo{Questions: []application.QuestionInput{{Text: "Ещё вопрос"}}}, env(asReviewer, now))
	if e, ok := cmderr.As(err); !ok || e.Code != "too_many_info_requests" || strings.Contains(e.Message.EN, "approve") || !strings.Contains(e.Message.EN, "issue the policy") || !strings.Contains(e.Message.RU, "оформите полис") {
		t.Fatalf("an 11th request once approved: %v", err)
	}
}

// A residence document that runs out between approval and issue: the
// policy is refused, and the application is not stuck. The reviewer asks
// for the new document, the applicant gives it, and the application is
// approved and issued again (time QA: nothing accepted "approved" but
// IssuePolicy, which refused, so it sat there for good).
func TestApprovedWithAnExpiredResidenceGoesOn(t *testing.T) {
	evs := history(application.StatusApproved)
	after := time.Date(2028, 1, 12, 9, 0, 0, 0, time.UTC) // the RVP ended on 10.01.2028
	_, err := application.Decide(application.Fold(evs...), application.IssuePolicy{ENP: testENP}, env(asReviewer, after))
	if e, ok := cmderr.As(err); !ok || e.Code != "residence_expired" {
		t.Fatalf("issue after the residence document ended: %v", err)
	}
	asked, err := application.Decide(application.Fold(evs...), application.RequestInfo{Questions: []application.QuestionInput{
		{Text: "Пришлите действующий документ о праве проживания", Field: "/residenceDocument"}}}, env(asReviewer, after))
	if err != nil {
		t.Fatalf("asking for the new document: %v", err)
	}
	evs = append(evs, asked...)
	res := validForm().ResidenceDocument
	res.Type, res.Number, res.IssuedAt, res.ExpiresAt = schema.ResidenceVNZh, "7654321", "2028-01-05", "2033-01-05"
	answered, err := application.Decide(application.Fold(evs...), application.ProvideInfo{
		Corrections: schema.Corrections{ResidenceDocument: &res}}, env(asOwner, after))
	if err != nil {
		t.Fatalf("the new document: %v", err)
	}
	evs = append(evs, answered...)
	if s := application.Fold(evs...); s.Status != application.StatusInReview {
		t.Fatalf("after the answer: %q", s.Status)
	}
	approved, err := application.Decide(application.Fold(evs...), application.Approve{}, env(asReviewer, after))
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, approved...)
	issued, err := application.Decide(application.Fold(evs...), application.IssuePolicy{ENP: testENP}, env(asReviewer, after))
	if err != nil || len(issued) != 1 {
		t.Fatalf("issue with the new document: %v %v", types(issued), err)
	}
}

// An expired passport is not approved nor issued on; the reviewer asks
// for the new one (time QA: approval went through a day after it ended).
func TestExpiredPassportIsNotApproved(t *testing.T) {
	after := time.Date(2030, 1, 15, 9, 0, 0, 0, time.UTC) // the passport ended on 14.01.2030
	s := application.Fold(history(application.StatusInReview)...)
	s.Form.ResidenceDocument.ExpiresAt = "2031-01-01"
	_, err := application.Decide(s, application.Approve{}, env(asReviewer, after))
	if e, ok := cmderr.As(err); !ok || e.Code != "identity_expired" || e.Message.RU == "" || e.Message.EN == "" {
		t.Fatalf("approval on an expired passport: %v", err)
	}
	if _, err := application.Decide(s, application.Approve{}, env(asReviewer, time.Date(2030, 1, 14, 9, 0, 0, 0, time.UTC))); err != nil {
		t.Fatalf("approval on the passport's last day: %v", err)
	}
	a := application.Fold(history(application.StatusApproved)...)
	a.Form.ResidenceDocument.ExpiresAt = "2031-01-01"
	_, err = application.Decide(a, application.IssuePolicy{ENP: testENP}, env(asReviewer, after))
	if e, ok := cmderr.As(err); !ok || e.Code != "identity_expired" {
		t.Fatalf("issue on an expired passport: %v", err)
	}
}

// newPassport is the passport a renewal brings in place of one expired.
var newPassport = schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: "FA", Number: "7654321", IssuedAt: "2026-02-20", IssuedBy: "MIA of Uzbekistan", ExpiresAt: "2036-02-19"}

// passportExpired is given with the submitted passport expired on
// 2026-03-01, ten days before now.
func passportExpired(given []schema.Event) []schema.Event {
	sub := given[0].(schema.ApplicationSubmitted)
	sub.Form.IdentityDocument.ExpiresAt = "2026-03-01"
	given[0] = sub
	return given
}

// replacedPassport is history(st) with the passport's scan replaced, in
// answer to a request, before the approval.
func replacedPassport(st application.Status) []schema.Event {
	given := history(st)
	at := now.AddDate(0, 0, -1)
	asked := schema.InfoRequested{ApplicationID: appID, ReviewerID: reviewer, RequestedAt: at,
		Questions: []schema.Question{{ID: "1.1", Text: "Скан паспорта нечитаем", DocumentKind: schema.DocumentPassport}}}
	sub := given[0].(schema.ApplicationSubmitted)
	docs := slices.Clone(sub.Documents)
	for i := range docs {
		if docs[i].Kind == schema.DocumentPassport {
			docs[i] = schema.DocumentRef{Kind: schema.DocumentPassport, ID: "doc-passport2", SHA256: "sha-doc-passport2"}
		}
	}
	provided := schema.InfoProvided{ApplicationID: appID, ProvidedAt: at, NewDocuments: []schema.DocumentRef{docs[0]}, Documents: docs}
	return append([]schema.Event{given[0], given[1], asked, provided}, given[2:]...)
}

// A scan the application held and has replaced is no new scan: not the
// new passport's in a renewal (QA: the old passport's scan was recorded as
// the new one's), and no answer to a request for a new scan (QA: the scan
// the reviewer had asked to replace answered the next request).
func TestAReplacedScanIsNoNewScan(t *testing.T) {
	s := application.Fold(passportExpired(replacedPassport(application.StatusPolicyActive))...)
	if !slices.Equal(s.Held, []string{"doc-passport", "doc-residence", "doc-consent", "doc-passport2"}) {
		t.Fatalf("held %q", s.Held)
	}
	passport := newPassport
	renew := func(id string) error {
		_, err := application.Decide(s, application.Renew{IdentityDocument: &passport, Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: id}}}, env(asOwner, now))
		return err
	}
	assertFields(t, renew("doc-passport"), "/documents/0/id:replaced_scan")
	assertFields(t, renew("doc-passport2"), "/documents/0/id:already_attached")

	again := application.Fold(append(replacedPassport(application.StatusInReview), schema.InfoRequested{ApplicationID: appID, ReviewerID: reviewer, RequestedAt: now,
		Questions: []schema.Question{{ID: "2.1", Text: "И этот нечитаем", DocumentKind: schema.DocumentPassport}}})...)
	_, err := application.Decide(again, application.ProvideInfo{Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "doc-passport"}}}, env(asOwner, now))
	assertFields(t, err, "/documents/0/id:replaced_scan", "/answers:unanswered")
	// The scan on file sent along with a text answer to the question is
	// no answer, but no fault either: it changes nothing.
	if _, err := application.Decide(again, application.ProvideInfo{Answers: []schema.Answer{{QuestionID: "2.1", Text: "Принесу паспорт в МФЦ."}},
		Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "doc-passport2"}}}, env(asOwner, now)); err != nil {
		t.Errorf("a text answer with the scan on file sent along: %v", err)
	}
}

// What is written in a text box may run over several lines: a rejection
// reason, a question, an answer (decisions QA: Enter in the reviewer's
// box made the reason "control characters"). A browser's "\r\n" is kept as
// "\n"; a form field of one line still refuses a line break.
func TestTextBoxesTakeLineBreaks(t *testing.T) {
	inReview := application.Fold(history(application.StatusInReview)...)
	evs, err := application.Decide(inReview, application.Reject{ReasonCode: schema.RejectInvalidDocuments, Reason: "Скан нечитаем:\r\n1) паспорт\r\n2) РВП"}, env(asReviewer, now))
	if err != nil {
		t.Fatal(err)
	}
	if r := evs[0].(schema.ApplicationRejected); r.Reason != "Скан нечитаем:\n1) паспорт\n2) РВП" {
		t.Errorf("reason stored as %q", r.Reason)
	}
	asked, err := application.Decide(inReview, application.RequestInfo{Questions: []application.QuestionInput{{Text: "Пришлите:\n1) паспорт\n2) РВП"}}}, env(asReviewer, now))
	if err != nil {
		t.Fatal(err)
	}
	waiting := application.Fold(append(history(application.StatusInReview), asked...)...)
	if _, err := application.Decide(waiting, application.ProvideInfo{Answers: []schema.Answer{{QuestionID: "1.1", Text: "Отправляю:\nпаспорт\nРВП"}}}, env(asOwner, now)); err != nil {
		t.Errorf("a two-line answer: %v", err)
	}
	if _, err := application.Decide(inReview, application.Reject{ReasonCode: schema.RejectInvalidDocuments, Reason: "Скан\x01нечитаем"}, env(asReviewer, now)); err == nil {
		t.Error("a control character other than a line break was taken")
	}
}
