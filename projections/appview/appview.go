// Package appview is the read-side picture of one application: a fold of
// its events into a View, and a field-level diff between two Views. The
// applications read model, the audit history and the auditor's time travel
// all use this one fold, so "the state at revision N" means the same thing
// everywhere.
package appview

import (
	"fmt"
	"slices"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// View is what the read side knows about one application.
type View struct {
	ApplicationID string       `json:"applicationId"`
	ApplicantID   string       `json:"applicantId"`
	Status        string       `json:"status"`
	SubmittedAt   time.Time    `json:"submittedAt"`
	SubmittedBy   events.Actor `json:"submittedBy"`
	OnBehalfOf    string       `json:"onBehalfOf,omitempty"`
	Form          schema.Form  `json:"form"`
	Assignee      string       `json:"assignee,omitempty"`
	// Released is the last return of the application to the queue, for
	// staff: who had it, who returned it and why (ForOwner drops it).
	Released     *Release    `json:"released,omitempty"`
	Questions    []Question  `json:"questions,omitempty"`
	Decision     *Decision   `json:"decision,omitempty"`
	Policy       *Policy     `json:"policy,omitempty"`
	PastPolicies []Policy    `json:"pastPolicies,omitempty"`
	Withdrawn    *Withdrawal `json:"withdrawn,omitempty"`
	Consent      *Consent    `json:"consent,omitempty"`
	Erased       *Erasure    `json:"erased,omitempty"`
	Revision     uint64      `json:"revision"`
	UpdatedAt    time.Time   `json:"updatedAt"`
}

// Release is an application's return to the queue (ClaimReleased).
type Release struct {
	From   string    `json:"from"` // the reviewer it was with
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Question is a reviewer's question and, once given, its answer.
type Question struct {
	schema.Question
	AskedAt time.Time `json:"askedAt"`
	AskedBy string    `json:"askedBy,omitempty"` // left out for the owner (ForOwner)
	// AnswerBy is the last day to answer (YYYY-MM-DD, Moscow), as the
	// applicant was told; empty for a question asked before the term.
	AnswerBy   string    `json:"answerBy,omitempty"`
	Answered   bool      `json:"answered"`
	Answer     string    `json:"answer,omitempty"`
	AnsweredAt time.Time `json:"answeredAt,omitempty"`
}

// Decision is the reviewer's decision.
type Decision struct {
	Outcome    string    `json:"outcome"`      // approved or rejected
	By         string    `json:"by,omitempty"` // left out for the owner (ForOwner)
	At         time.Time `json:"at"`
	ReasonCode string    `json:"reasonCode,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// Policy is one term of the applicant's policy.
type Policy struct {
	ENP       string                `json:"enp"`
	ValidFrom string                `json:"validFrom"`
	ValidTo   string                `json:"validTo"`
	Document  schema.PolicyDocument `json:"document"`
	Region    string                `json:"region"`
	Status    string                `json:"status"` // active or expired
	IssuedAt  time.Time             `json:"issuedAt"`
	// TermFrom is where the current term starts, when a renewal without a
	// gap made ValidFrom the start of the whole uninsured-free span.
	TermFrom string `json:"termFrom,omitempty"`
	// RenewalReminded is set once the applicant was reminded to renew
	// this term.
	RenewalReminded bool `json:"renewalReminded,omitempty"`
}

// Withdrawal records the applicant withdrawing.
type Withdrawal struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Consent is the consent document of the application and its withdrawal.
type Consent struct {
	Version     string    `json:"version"`
	TextSHA256  string    `json:"textSha256"`
	Method      string    `json:"method"`
	DocumentID  string    `json:"documentId,omitempty"`
	SignedAt    time.Time `json:"signedAt"`
	WithdrawnAt time.Time `json:"withdrawnAt,omitzero"`
	// RetainUntil is the last day an issued policy's record must be kept
	// after the withdrawal.
	RetainUntil string `json:"retainUntil,omitempty"`
}

// Withdrawn reports whether the consent was withdrawn; from then on the
// application takes no new personal data (no new address, no renewal).
func (c *Consent) Withdrawn() bool { return c != nil && !c.WithdrawnAt.IsZero() }

// Erasure records that the applicant's personal data were erased.
type Erasure struct {
	At    time.Time `json:"at"`
	Basis string    `json:"basis"`
	By    string    `json:"by,omitempty"` // left out for the owner (ForOwner)
}

// consentOf is the view of a consent signed (nil: none recorded).
func consentOf(c *schema.ConsentDocument) *Consent {
	if c == nil {
		return nil
	}
	return &Consent{Version: c.Version, TextSHA256: c.TextSHA256, Method: c.Method, DocumentID: c.DocumentID, SignedAt: c.SignedAt.UTC()}
}

// ForOwner returns v as its applicant, and an МФЦ operator acting for
// them, may read it: without the ids of the insurer's staff — who holds
// the application, who asked, who decided, who erased. Those are the
// insurer's internal business, and the owner-facing read models (the
// cabinet, the owner's view of an application) leave them out alike.
func ForOwner(v View) View {
	v.Assignee, v.Released = "", nil
	v.Decision = OwnerDecision(v.Decision)
	v.Questions = OwnerQuestions(v.Questions)
	v.Erased = OwnerErasure(v.Erased)
	return v
}

// OwnerDecision is d without the reviewer's id (see ForOwner).
func OwnerDecision(d *Decision) *Decision {
	if d == nil {
		return nil
	}
	c := *d
	c.By = ""
	return &c
}

// OwnerQuestions is qs without the reviewers' ids, in a new slice (see
// ForOwner).
func OwnerQuestions(qs []Question) []Question {
	if qs == nil {
		return nil
	}
	out := make([]Question, len(qs))
	for i, q := range qs {
		q.AskedBy = ""
		out[i] = q
	}
	return out
}

// OwnerErasure is e without the administrator's id (see ForOwner).
func OwnerErasure(e *Erasure) *Erasure {
	if e == nil {
		return nil
	}
	c := *e
	c.By = ""
	return &c
}

// Statuses of an application.
const (
	StatusSubmitted     = "submitted"
	StatusInReview      = "in_review"
	StatusInfoRequested = "info_requested"
	StatusApproved      = "approved"
	StatusRejected      = "rejected"
	StatusWithdrawn     = "withdrawn"
	StatusPolicyActive  = "policy_active"
	StatusPolicyExpired = "policy_expired"
)

// Open reports whether an application still waits for the insurer.
func Open(status string) bool {
	switch status {
	case StatusSubmitted, StatusInReview, StatusInfoRequested, StatusApproved:
		return true
	}
	return false
}

// Apply folds one event of the application's stream into v. Events of other
// types leave v unchanged; a payload that does not decode is an error, so a
// projection parks it rather than silently building a wrong view.
func Apply(v *View, ev eventstore.Recorded) error {
	p, err := ev.Payload()
	if err != nil {
		return fmt.Errorf("appview: %s@%d: %w", ev.Stream, ev.Revision, err)
	}
	at := ev.Envelope.OccurredAt.UTC()
	// Copy on write: v may share its slices and pointers with a value a
	// projection runner holds (see runner.Tx), so existing elements are
	// never changed in place. Appending may reuse spare capacity, which no
	// other holder can see; keeping the array shared lets Diff skip the
	// unchanged prefix instead of comparing every question at every step.
	if v.Policy != nil {
		p := *v.Policy
		v.Policy = &p
	}
	switch e := p.(type) {
	case schema.ApplicationSubmitted:
		*v = View{
			ApplicationID: e.ApplicationID, ApplicantID: e.ApplicantID, Status: StatusSubmitted,
			SubmittedAt: e.SubmittedAt.UTC(), SubmittedBy: ev.Envelope.Actor, OnBehalfOf: ev.Envelope.OnBehalfOf,
			Form: e.Form,
		}
		v.Consent = consentOf(e.ConsentDocument)
	case schema.ApplicationClaimed:
		// As the domain: only a new application's review starts here.
		v.Assignee = e.ReviewerID
		if v.Status == StatusSubmitted {
			v.Status = StatusInReview
		}
	case schema.ClaimReleased:
		v.Assignee = ""
		if v.Status == StatusInReview {
			v.Status = StatusSubmitted
		}
		v.Released = &Release{From: e.ReviewerID, By: e.ReleasedBy, At: e.ReleasedAt.UTC(), Reason: e.Reason}
	case schema.InfoRequested:
		// Asked after an approval, the question reopens the review: the
		// approval no longer stands, as the domain needs a new one
		// (audit QA: every view still said "approved").
		v.Status, v.Decision = StatusInfoRequested, nil
		for _, q := range e.Questions {
			v.Questions = append(v.Questions, Question{Question: q, AskedAt: e.RequestedAt.UTC(), AskedBy: e.ReviewerID, AnswerBy: e.AnswerBy})
		}
	case schema.InfoProvided:
		v.Status = StatusInReview
		answers := map[string]string{}
		for _, a := range e.Answers {
			answers[a.QuestionID] = a.Text
		}
		v.Questions = slices.Clone(v.Questions) // elements change below
		for i := range v.Questions {
			if !v.Questions[i].Answered {
				v.Questions[i].Answered = true
				v.Questions[i].Answer = answers[v.Questions[i].ID]
				v.Questions[i].AnsweredAt = e.ProvidedAt.UTC()
			}
		}
		c := e.Corrections
		if c.Applicant != nil {
			v.Form.Applicant = *c.Applicant
		}
		if c.IdentityDocument != nil {
			v.Form.IdentityDocument = *c.IdentityDocument
		}
		if c.ResidenceDocument != nil {
			v.Form.ResidenceDocument = *c.ResidenceDocument
		}
		if c.Address != nil {
			v.Form.Address = *c.Address
		}
		if c.Contacts != nil {
			v.Form.Contacts = *c.Contacts
		}
		if e.Documents != nil {
			v.Form.Documents = e.Documents
		}
		if e.ConsentDocument != nil {
			v.Consent = consentOf(e.ConsentDocument)
		}
	case schema.ApplicationApproved:
		v.Status = StatusApproved
		v.Decision = &Decision{Outcome: "approved", By: e.ReviewerID, At: e.ApprovedAt.UTC()}
	case schema.ApplicationRejected:
		v.Status = StatusRejected
		v.Decision = &Decision{Outcome: "rejected", By: e.ReviewerID, At: e.RejectedAt.UTC(), ReasonCode: e.ReasonCode, Reason: e.Reason}
	case schema.ApplicationWithdrawn:
		v.Status = StatusWithdrawn
		v.Withdrawn = &Withdrawal{At: e.WithdrawnAt.UTC(), Reason: e.Reason}
	case schema.PolicyIssued:
		v.Status = StatusPolicyActive
		v.Policy = &Policy{ENP: e.ENP, ValidFrom: e.ValidFrom, ValidTo: e.ValidTo, Document: e.Document, Region: e.Region, Status: "active", IssuedAt: e.IssuedAt.UTC()}
	case schema.AddressChanged:
		v.Form.Address = e.Address
		if v.Policy != nil {
			v.Policy.Document = e.Document
			v.Policy.Region = e.Address.Region
		}
	case schema.PolicyRenewed:
		from, term := e.ValidFrom, ""
		if v.Policy != nil {
			old := *v.Policy
			if continues(old.ValidTo, e.ValidFrom) {
				// Renewed without a day between the terms: the person is
				// insured throughout, and the policy shows that whole
				// span, so that it is in force today rather than "from" a
				// date to come. The old document was replaced, unless its
				// term had already been recorded as over.
				from, term = old.ValidFrom, e.ValidFrom
				if old.Status != "expired" {
					old.Status = "superseded"
				}
			}
			if old.Status != "superseded" {
				old.Status = "expired"
			}
			// The past entry is that term alone, not the span it was
			// shown in, so that past terms do not overlap (lifecycle QA).
			if old.TermFrom != "" {
				old.ValidFrom, old.TermFrom = old.TermFrom, ""
			}
			v.PastPolicies = append(v.PastPolicies, old)
		}
		region := v.Form.Address.Region
		v.Status = StatusPolicyActive
		v.Policy = &Policy{ENP: e.ENP, ValidFrom: from, TermFrom: term, ValidTo: e.ValidTo, Document: e.Document, Region: region, Status: "active", IssuedAt: e.RenewedAt.UTC()}
		v.Form.ResidenceDocument = e.ResidenceDocument
		if e.IdentityDocument != nil {
			v.Form.IdentityDocument = *e.IdentityDocument
		}
		if e.Documents != nil {
			v.Form.Documents = e.Documents
		}
		if e.ConsentDocument != nil {
			v.Consent = consentOf(e.ConsentDocument)
		}
	case schema.RenewalDue:
		if v.Policy != nil {
			v.Policy.RenewalReminded = true
		}
	case schema.PolicyExpired:
		v.Status = StatusPolicyExpired
		if v.Policy != nil {
			v.Policy.Status = "expired"
		}
	case schema.ConsentWithdrawn:
		c := Consent{}
		if v.Consent != nil {
			c = *v.Consent
		}
		c.WithdrawnAt, c.RetainUntil = e.WithdrawnAt.UTC(), e.RetainUntil
		v.Consent = &c
		if e.ClosedApplication {
			v.Status = StatusWithdrawn
		}
	case schema.ApplicantDataErased:
		Erase(v)
		v.Erased = &Erasure{At: e.ErasedAt.UTC(), Basis: e.Basis, By: ev.Envelope.Actor.ID}
	default:
		return nil
	}
	v.Revision = ev.Revision
	v.UpdatedAt = at
	return nil
}

// continues reports whether a term starting on from (YYYY-MM-DD) leaves no
// day uncovered after a term ending on until.
func continues(until, from string) bool {
	end, err1 := time.Parse(time.DateOnly, until)
	start, err2 := time.Parse(time.DateOnly, from)
	if err1 != nil || err2 != nil {
		return until >= from // not dates: the order of the strings
	}
	return !start.After(end.AddDate(0, 0, 1))
}
