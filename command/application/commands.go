package application

import (
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
)

// Command is a request to change an application. The JSON tags are the
// request bodies of the command API.
type Command interface {
	// Name is the command's name, e.g. "Approve".
	Name() string
	decide(s State, env Env) ([]schema.Event, error)
}

// SubmitApplication opens an application. The service chooses the id.
type SubmitApplication struct {
	ApplicationID string      `json:"-"`
	Form          schema.Form `json:"form"`
}

// ClaimForReview assigns the application to the calling reviewer.
type ClaimForReview struct{}

// ReleaseClaim returns an application in review to the queue: its reviewer
// lets it go, or an administrator takes it from a reviewer who cannot go on
// with it, saying why. The review deadline keeps running.
type ReleaseClaim struct {
	Reason string `json:"reason,omitempty" openapi:"optional"` // required of an administrator
}

// QuestionInput is one question of RequestInfo; the domain numbers it.
type QuestionInput struct {
	Text string `json:"text"`
	// Field is the JSON pointer of a form field the question is about.
	Field string `json:"field,omitempty"`
	// DocumentKind is the scan the question is about.
	DocumentKind string `json:"documentKind,omitempty"`
}

// RequestInfo asks the applicant concrete questions.
type RequestInfo struct {
	Questions []QuestionInput `json:"questions"`
}

// ProvideInfo answers the open questions with text, corrected form sections
// and new scans.
type ProvideInfo struct {
	Answers     []schema.Answer      `json:"answers,omitempty"`
	Corrections schema.Corrections   `json:"corrections" openapi:"optional"` // answers alone may do; see WithdrawConsent on the tag
	Documents   []schema.DocumentRef `json:"documents,omitempty"`
}

// Approve is the reviewer's positive decision. ENP is filled in by the
// service (a reserved number) when Config.AutoIssue is on.
type Approve struct {
	ENP string `json:"-"`
}

// Reject is the reviewer's negative decision.
type Reject struct {
	// ReasonCode is one of schema.RejectReasons.
	ReasonCode string `json:"reasonCode"`
	Reason     string `json:"reason"`
}

// IssuePolicy issues the policy of an approved application with a reserved
// ЕНП filled in by the service.
type IssuePolicy struct {
	ENP string `json:"-"`
}

// ChangeAddress records a new address and reissues the policy document.
type ChangeAddress struct {
	Address schema.Address `json:"address"`
}

// Renew starts a new policy term, optionally with a new residence document
// (which then needs its scan in Documents).
type Renew struct {
	ResidenceDocument *schema.ResidenceDocument `json:"residenceDocument,omitempty"`
	// IdentityDocument is a new passport, given with its scan, when the
	// one on the policy was replaced.
	IdentityDocument *schema.IdentityDocument `json:"identityDocument,omitempty"`
	Documents        []schema.DocumentRef     `json:"documents,omitempty"`
}

// Withdraw is the applicant taking the application back before a decision.
type Withdraw struct {
	Reason string `json:"reason,omitempty"`
}

// ExpirePolicy ends a policy whose validity is over; the system issues it.
type ExpirePolicy struct{}

// RemindRenewal tells the applicant that the term ends within the renewal
// window; the system issues it once per term.
type RemindRenewal struct{}

// Command names.
func (SubmitApplication) Name() string { return "SubmitApplication" }
func (ClaimForReview) Name() string    { return "ClaimForReview" }
func (ReleaseClaim) Name() string      { return "ReleaseClaim" }
func (RequestInfo) Name() string       { return "RequestInfo" }
func (ProvideInfo) Name() string       { return "ProvideInfo" }
func (Approve) Name() string           { return "Approve" }
func (Reject) Name() string            { return "Reject" }
func (IssuePolicy) Name() string       { return "IssuePolicy" }
func (ChangeAddress) Name() string     { return "ChangeAddress" }
func (Renew) Name() string             { return "Renew" }
func (Withdraw) Name() string          { return "Withdraw" }
func (ExpirePolicy) Name() string      { return "ExpirePolicy" }
func (RemindRenewal) Name() string     { return "RemindRenewal" }

// Decide runs a command against a state. It returns the events to append,
// or a *cmderr.Error saying why the command is refused; any other error is a
// bug in the caller (for instance an Approve with AutoIssue and no ЕНП).
func Decide(s State, c Command, env Env) ([]schema.Event, error) {
	env.Config = env.Config.WithDefaults()
	env.Now = env.Now.UTC()
	if _, submit := c.(SubmitApplication); !submit {
		// Before any refusal that tells what the application is (erased,
		// in the wrong state). A submission's id is the service's choice,
		// never the caller's.
		if err := CheckVisible(s, env.Caller); err != nil {
			return nil, err
		}
	}
	if _, erase := c.(EraseData); s.Erased && !erase {
		// Not "submit a new application": the erasure destroyed the
		// applicant's key, and the account takes no new personal data
		// (applicant_erased), so the advice led nowhere (QA).
		return nil, conflict("erased",
			"Персональные данные по этому заявлению удалены; действия с ним невозможны, и эта учётная запись новых сведений не принимает.",
			"The personal data of this application were erased; it takes no more actions, and this account takes no new personal data.")
	}
	return c.decide(s, env)
}

// CheckVisible refuses a caller who may not learn that the application
// exists, as application_not_found: an applicant may see their own, an МФЦ
// operator the one of the applicant they act for, staff and the system
// any. Someone else's application answers so to commands as to reads, and
// before anything else about it (its revision, its state), so that ids
// cannot be probed.
func CheckVisible(s State, c Caller) error {
	if !s.Exists() {
		return nil // nothing to hide; the command says what it makes of it
	}
	switch c.Role {
	case events.RoleApplicant, events.RoleOperator:
		if c.Subject() == "" || c.Subject() != s.ApplicantID {
			return notFound()
		}
	}
	return nil
}

// NeedsENP reports whether deciding c under cfg issues a policy,
// so that the service knows to reserve an ЕНП first.
func NeedsENP(c Command, cfg Config) bool {
	switch c.(type) {
	case IssuePolicy:
		return true
	case Approve:
		return cfg.AutoIssue
	}
	return false
}

// WithENP returns c with the ЕНП set, for the commands that take one.
func WithENP(c Command, enp string) Command {
	switch c := c.(type) {
	case IssuePolicy:
		c.ENP = enp
		return c
	case Approve:
		c.ENP = enp
		return c
	}
	return c
}
