package application_test

import (
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

func TestSubmissionRecordsConsentAsItsOwnDocument(t *testing.T) {
	evs, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: validForm()}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	c := evs[0].(schema.ApplicationSubmitted).ConsentDocument
	if c == nil {
		t.Fatal("submission without its consent document")
	}
	if c.Version != application.ConsentVersion || len(c.TextSHA256) != 64 || c.DocumentID != "doc-consent" ||
		c.Method != schema.ConsentSignedOnPaper || !c.SignedAt.Equal(now) {
		t.Fatalf("consent %+v", c)
	}
	if s := application.Fold(evs...); s.ConsentVersion != application.ConsentVersion {
		t.Fatalf("state consent version %q", s.ConsentVersion)
	}
	// Only one wording was ever published, so none is outdated yet; a
	// version that is no wording is unknown.
	f := validForm()
	// A version from the future, or no date at all, was never published:
	// calling it outdated would send the applicant looking for a newer one.
	for _, v := range []string{"2099-01-01", "v2", "2025-13-01", "2020-01-01", strings.Repeat("x", 5000)} {
		f.ConsentVersion = v
		_, err = application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: f}, env(asOwner, now))
		e, ok := cmderr.As(err)
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != "/consentVersion" || e.Fields[0].Code != "unknown_version" ||
			!strings.Contains(e.Fields[0].Message.RU, application.ConsentVersion) {
			t.Errorf("consent version %q: %v", v, err)
		}
	}
}

func TestConsentWithdrawal(t *testing.T) {
	// An application under review closes: nothing to process without consent.
	s := application.Fold(history(application.StatusInReview)...)
	evs, err := application.Decide(s, application.WithdrawConsent{}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	w := evs[0].(schema.ConsentWithdrawn)
	if !w.ClosedApplication || w.RetainUntil != "" {
		t.Fatalf("withdrawal of an open application %+v", w)
	}
	if _, err := application.Decide(application.Fold(append(history(application.StatusInReview), w)...), application.WithdrawConsent{}, env(asOwner, now)); !cmderr.Is(err, cmderr.Conflict) {
		t.Fatalf("second withdrawal: %v", err)
	}
	// An issued policy stays on record: its term (to 2026-03-19) plus 5 years.
	s = application.Fold(history(application.StatusPolicyActive)...)
	evs, err = application.Decide(s, application.WithdrawConsent{}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	if w := evs[0].(schema.ConsentWithdrawn); w.ClosedApplication || w.RetainUntil != "2031-03-19" {
		t.Fatalf("withdrawal with a policy %+v", w)
	}
}

func TestErasureWaitsForTheRetentionPeriod(t *testing.T) {
	s := application.Fold(history(application.StatusPolicyExpired)...)
	erase := application.EraseData{Basis: schema.EraseRetentionEnded}
	for _, tc := range []struct {
		day     string
		allowed bool
	}{{"2031-03-19", false}, {"2031-03-20", true}} {
		at := mustDay(t, tc.day)
		_, err := application.Decide(s, erase, env(asAdmin, at))
		if tc.allowed != (err == nil) {
			t.Fatalf("erasure on %s: err %v, want allowed=%v", tc.day, err, tc.allowed)
		}
		if err != nil && !strings.Contains(err.Error(), "2031-03-19") {
			t.Fatalf("the refusal does not say until when: %v", err)
		}
	}
	if _, err := application.Decide(s, application.EraseData{Basis: "because"}, env(asAdmin, mustDay(t, "2032-01-01"))); !cmderr.Is(err, cmderr.Validation) {
		t.Fatalf("unknown basis: %v", err)
	}
}

func TestErasedApplicationTakesNoMoreCommands(t *testing.T) {
	given := append(history(application.StatusRejected), schema.ApplicantDataErased{ApplicationID: appID, ApplicantID: owner, Basis: schema.EraseOnRequest, ErasedAt: now})
	s := application.Fold(given...)
	if !s.Erased {
		t.Fatal("fold lost the erasure")
	}
	for _, w := range commands() {
		_, err := application.Decide(s, w.cmd, env(w.caller, w.at))
		if !cmderr.Is(err, cmderr.Conflict) {
			t.Errorf("%s on an erased application: %v, want a conflict", w.cmd.Name(), err)
		}
		// It advises nothing the erased account would refuse (QA: it
		// said to submit a new application).
		if e, ok := cmderr.As(err); ok && (strings.Contains(e.Message.RU, "Подайте") || strings.Contains(e.Message.EN, "Submit")) {
			t.Errorf("%s on an erased application advises %q", w.cmd.Name(), e.Message.EN)
		}
	}
}

// mustDay is noon in Moscow on day d.
func mustDay(t *testing.T, d string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateOnly, d)
	if err != nil {
		t.Fatal(err)
	}
	return v.Add(9 * time.Hour)
}

// A new consent scan is a consent signed anew: the consent record names
// the paper the form now holds, and a scan already on file signs nothing.
func TestNewConsentScanSignsAnew(t *testing.T) {
	later := now.Add(time.Hour)
	asked := application.Fold(history(application.StatusInfoRequested)...)
	answer := func(consentID string) schema.InfoProvided {
		t.Helper()
		evs, err := application.Decide(asked, application.ProvideInfo{
			Answers:   []schema.Answer{{QuestionID: "1.1", Text: "Москва"}},
			Documents: []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: consentID}},
		}, env(asOperator, later))
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].(schema.InfoProvided)
	}
	p := answer("doc-consent2")
	if c := p.ConsentDocument; c == nil || c.DocumentID != "doc-consent2" || !c.SignedAt.Equal(later) || c.Version != application.ConsentVersion {
		t.Fatalf("answer with a new consent scan: consent %+v", c)
	}
	if p := answer("doc-consent"); p.ConsentDocument != nil {
		t.Fatalf("the scan on file signed anew: %+v", p.ConsentDocument)
	}

	// A renewal with a new consent scan, likewise.
	active := application.Fold(history(application.StatusPolicyActive)...)
	evs, err := application.Decide(active, application.Renew{Documents: []schema.DocumentRef{{Kind: schema.DocumentConsent, ID: "doc-consent2"}}}, env(asOwner, later))
	if err != nil {
		t.Fatal(err)
	}
	if c := evs[0].(schema.PolicyRenewed).ConsentDocument; c == nil || c.DocumentID != "doc-consent2" {
		t.Fatalf("renewal with a new consent scan: consent %+v", c)
	}
}

// Once the consent is withdrawn, an application with a policy on record
// takes no new personal data: neither a new address nor a renewal.
func TestWithdrawnConsentTakesNoNewData(t *testing.T) {
	active := application.Fold(history(application.StatusPolicyActive)...)
	evs, err := application.Decide(active, application.WithdrawConsent{}, env(asOwner, now))
	if err != nil {
		t.Fatal(err)
	}
	withdrawn := application.Fold(append(history(application.StatusPolicyActive), evs...)...)
	for _, c := range []application.Command{application.ChangeAddress{Address: newAddress}, application.Renew{}} {
		if _, err := application.Decide(active, c, env(asOwner, now)); err != nil {
			t.Fatalf("%s before the withdrawal: %v", c.Name(), err)
		}
		_, err := application.Decide(withdrawn, c, env(asOwner, now))
		if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.Conflict || e.Code != "consent_withdrawn" {
			t.Errorf("%s after the withdrawal: %v", c.Name(), err)
		}
	}
}

// Someone else's application is not found, before anything that would
// tell what it is: erased, or in a state the command does not fit.
func TestOthersApplicationsAreNotFoundFirst(t *testing.T) {
	erased := application.Fold(append(history(application.StatusPolicyExpired), schema.ApplicantDataErased{ApplicationID: appID, Basis: schema.EraseOnRequest})...)
	if !erased.Erased {
		t.Fatal("the history did not erase; this test tests nothing")
	}
	inReview := application.Fold(history(application.StatusInReview)...)
	for name, tc := range map[string]struct {
		s application.State
		c application.Command
	}{
		"renew an erased one":          {erased, application.Renew{}},
		"renew one in review":          {inReview, application.Renew{}},
		"change the address in review": {inReview, application.ChangeAddress{Address: newAddress}},
		"withdraw consent in review":   {inReview, application.WithdrawConsent{}},
	} {
		for _, who := range []application.Caller{asOther, asOtherOp} {
			_, err := application.Decide(tc.s, tc.c, env(who, now))
			if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.NotFound || e.Code != "application_not_found" {
				t.Errorf("%s as %s: %v", name, who.Role, err)
			}
		}
		// The owner learns why.
		if _, err := application.Decide(tc.s, tc.c, env(asOwner, now)); cmderr.Is(err, cmderr.NotFound) {
			t.Errorf("%s as the owner: %v", name, err)
		}
	}
}
