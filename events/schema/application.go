package schema

import "time"

// Event type names of the application stream "application-<uuid>". They are
// also the EventStoreDB event types.
const (
	TypeApplicationSubmitted = "ApplicationSubmitted"
	TypeApplicationClaimed   = "ApplicationClaimed"
	TypeClaimReleased        = "ClaimReleased"
	TypeInfoRequested        = "InfoRequested"
	TypeInfoProvided         = "InfoProvided"
	TypeApplicationApproved  = "ApplicationApproved"
	TypeApplicationRejected  = "ApplicationRejected"
	TypePolicyIssued         = "PolicyIssued"
	TypeAddressChanged       = "AddressChanged"
	TypePolicyRenewed        = "PolicyRenewed"
	TypeApplicationWithdrawn = "ApplicationWithdrawn"
	TypePolicyExpired        = "PolicyExpired"
	TypeRenewalDue           = "RenewalDue"
)

// ApplicationStream is the stream of one application.
func ApplicationStream(applicationID string) string { return "application-" + applicationID }

// ApplicationSubmitted (v2) opens an application. It carries the whole form
// so that every read model can be built from it alone.
//
// Version history: v1 had applicant.fullName ("Фамилия Имя Отчество") instead
// of lastName/firstName/middleName; upcastSubmittedV1 splits it.
type ApplicationSubmitted struct {
	ApplicationID string `json:"applicationId"`
	// ApplicantID is the subject id of the applicant the application belongs
	// to; when an МФЦ operator submits, it is the applicant the operator acts
	// for (the operator is in the envelope's actor).
	ApplicantID string    `json:"applicantId"`
	SubmittedAt time.Time `json:"submittedAt"`
	// Form is flattened into the payload: applicant, identityDocument,
	// residenceDocument, address, contacts, documents, consent.
	Form
	// ConsentDocument is the signed consent, a document apart from the
	// form; nil in applications submitted before it was recorded.
	ConsentDocument *ConsentDocument `json:"consentDocument,omitempty"`
}

// ApplicationClaimed assigns the application to a reviewer and starts the
// review.
type ApplicationClaimed struct {
	ApplicationID string    `json:"applicationId"`
	ReviewerID    string    `json:"reviewerId"`
	ClaimedAt     time.Time `json:"claimedAt"`
}

// ClaimReleased returns an application in review to the queue, for another
// reviewer to claim: its reviewer let it go, or an administrator took it
// from a reviewer who cannot go on with it (away, gone), where it would
// otherwise wait past its deadline for them.
type ClaimReleased struct {
	ApplicationID string    `json:"applicationId"`
	ReviewerID    string    `json:"reviewerId"` // whom it was with
	ReleasedBy    string    `json:"releasedBy"`
	ReleasedAt    time.Time `json:"releasedAt"`
	// Reason is the staff's own note, e.g. "on leave until 5 March".
	Reason string `json:"reason,omitempty"`
}

// Question is one thing a reviewer asks the applicant.
type Question struct {
	// ID is unique within the application, e.g. "2.1" (round 2, question 1).
	ID   string `json:"id"`
	Text string `json:"text"`
	// Field, if set, is the JSON pointer of the form field the question is
	// about, e.g. "/residenceDocument/issuedAt".
	Field string `json:"field,omitempty"`
	// DocumentKind, if set, is the scan the question is about.
	DocumentKind string `json:"documentKind,omitempty"`
}

// InfoRequested asks the applicant for more information. It stops the SLA
// clock until InfoProvided.
type InfoRequested struct {
	ApplicationID string     `json:"applicationId"`
	ReviewerID    string     `json:"reviewerId"`
	RequestedAt   time.Time  `json:"requestedAt"`
	Questions     []Question `json:"questions"`
	// AnswerBy is the last day (YYYY-MM-DD, Moscow) the applicant has to
	// answer, told to them with the questions; only after it may the
	// application be refused for no response. Empty in requests recorded
	// before the term existed, whose term counts from RequestedAt.
	AnswerBy string `json:"answerBy,omitempty"`
}

// Answer is the applicant's text answer to one question.
type Answer struct {
	QuestionID string `json:"questionId"`
	Text       string `json:"text"`
}

// Corrections are the form sections an applicant corrected. Each present
// section replaces the whole section of the form.
type Corrections struct {
	Applicant         *Applicant         `json:"applicant,omitempty"`
	IdentityDocument  *IdentityDocument  `json:"identityDocument,omitempty"`
	ResidenceDocument *ResidenceDocument `json:"residenceDocument,omitempty"`
	Address           *Address           `json:"address,omitempty"`
	Contacts          *Contacts          `json:"contacts,omitempty"`
}

// InfoProvided answers an information request and returns the application to
// review (restarting the SLA clock).
type InfoProvided struct {
	ApplicationID string    `json:"applicationId"`
	ProvidedAt    time.Time `json:"providedAt"`
	Answers       []Answer  `json:"answers,omitempty"`
	// Corrections are applied to the form section by section.
	Corrections Corrections `json:"corrections"`
	// NewDocuments are the scans uploaded with the answer.
	NewDocuments []DocumentRef `json:"newDocuments,omitempty"`
	// Documents is the form's complete document list after the answer: a new
	// scan replaces the scan of the same kind.
	Documents []DocumentRef `json:"documents"`
	// ConsentDocument is the consent signed anew, when the answer brings
	// a new consent scan: the application's consent is the latest signed.
	ConsentDocument *ConsentDocument `json:"consentDocument,omitempty"`
}

// ApplicationApproved is the reviewer's positive decision.
type ApplicationApproved struct {
	ApplicationID string    `json:"applicationId"`
	ReviewerID    string    `json:"reviewerId"`
	ApprovedAt    time.Time `json:"approvedAt"`
	// WithPolicy is true when the policy is issued in the same write
	// (automatic issue): the approval is then no news of its own, and
	// "the policy will be issued shortly" was told of one issued already.
	WithPolicy bool `json:"withPolicy,omitempty"`
}

// Rejection reason codes.
const (
	RejectNotEligible      = "not_eligible"
	RejectInvalidDocuments = "invalid_documents"
	RejectNoResponse       = "no_response"
	RejectDuplicate        = "duplicate"
	RejectOther            = "other"
)

// RejectReasons lists every rejection reason code.
var RejectReasons = []string{RejectNotEligible, RejectInvalidDocuments, RejectNoResponse, RejectDuplicate, RejectOther}

// ApplicationRejected is the reviewer's negative decision. It closes the
// application and frees the person to apply again.
type ApplicationRejected struct {
	ApplicationID string    `json:"applicationId"`
	ReviewerID    string    `json:"reviewerId"`
	RejectedAt    time.Time `json:"rejectedAt"`
	// ReasonCode is one of RejectReasons.
	ReasonCode string `json:"reasonCode"`
	// Reason is the reviewer's explanation for the applicant.
	Reason string `json:"reason"`
}

// PolicyDocument is one issue of the policy document (the printable полис).
// The ЕНП stays the same for life; the document is reissued on an address
// change or a renewal with the next version.
type PolicyDocument struct {
	// Number is "<ЕНП>-<version, two digits>", e.g. "1234567890123452-02".
	Number  string `json:"number"`
	Version int    `json:"version"`
	// IssuedAt is "YYYY-MM-DD".
	IssuedAt string `json:"issuedAt"`
}

// PolicyIssued gives the applicant an ОМС policy.
type PolicyIssued struct {
	ApplicationID string `json:"applicationId"`
	ApplicantID   string `json:"applicantId"`
	// ENP is the 16-digit единый номер полиса; its last digit is a Luhn check
	// digit (see command/application.ValidENP).
	ENP string `json:"enp"`
	// ValidFrom and ValidTo are "YYYY-MM-DD", both inclusive: ValidTo is the
	// issue date + the policy term − 1 day, or the residence document's
	// expiry if that is earlier.
	ValidFrom string         `json:"validFrom"`
	ValidTo   string         `json:"validTo"`
	Document  PolicyDocument `json:"document"`
	// Region is the address region the applicant is insured in.
	Region   string    `json:"region"`
	IssuedAt time.Time `json:"issuedAt"`
	// Automatic is true when the policy was issued right after approval
	// (configuration), not by a separate IssuePolicy command.
	Automatic bool `json:"automatic,omitempty"`
}

// AddressChanged records a new address of an insured applicant and the
// reissued policy document: a new document version and issue date, the same
// ЕНП and validity.
type AddressChanged struct {
	ApplicationID string    `json:"applicationId"`
	Address       Address   `json:"address"`
	ChangedAt     time.Time `json:"changedAt"`
	ENP           string    `json:"enp"`
	// ValidFrom and ValidTo are unchanged, repeated for projections.
	ValidFrom string         `json:"validFrom"`
	ValidTo   string         `json:"validTo"`
	Document  PolicyDocument `json:"document"`
}

// PolicyRenewed starts a new policy term. The term starts the day after the
// old one ends, or on the renewal date if the policy had already expired.
type PolicyRenewed struct {
	ApplicationID string `json:"applicationId"`
	ENP           string `json:"enp"`
	// ValidFrom and ValidTo of the new term, inclusive.
	ValidFrom string         `json:"validFrom"`
	ValidTo   string         `json:"validTo"`
	Document  PolicyDocument `json:"document"`
	// ResidenceDocument is the document the new term relies on: the new one
	// if the applicant supplied one, otherwise the one on file.
	ResidenceDocument ResidenceDocument `json:"residenceDocument"`
	// IdentityDocument is the new identity document the holder gave with
	// the renewal; nil when the one on file goes on.
	IdentityDocument *IdentityDocument `json:"identityDocument,omitempty"`
	// NewDocuments are the scans supplied with the renewal (a new residence
	// document's or passport's scan, a newly signed consent).
	NewDocuments []DocumentRef `json:"newDocuments,omitempty"`
	// Documents is the form's complete document list after the renewal.
	Documents []DocumentRef `json:"documents"`
	RenewedAt time.Time     `json:"renewedAt"`
	// ConsentDocument is the consent signed anew, when the renewal brings
	// a new consent scan (see InfoProvided).
	ConsentDocument *ConsentDocument `json:"consentDocument,omitempty"`
}

// ApplicationWithdrawn is the applicant withdrawing before a decision. It
// closes the application and frees the person to apply again.
type ApplicationWithdrawn struct {
	ApplicationID string    `json:"applicationId"`
	WithdrawnAt   time.Time `json:"withdrawnAt"`
	Reason        string    `json:"reason,omitempty"`
}

// PolicyExpired records that the policy's validity ended; the application
// can still be renewed.
type PolicyExpired struct {
	ApplicationID string `json:"applicationId"`
	ENP           string `json:"enp"`
	// ValidTo is the last day the policy was valid.
	ValidTo   string    `json:"validTo"`
	ExpiredAt time.Time `json:"expiredAt"`
}

// RenewalDue records that the applicant was reminded to renew: the term
// ends within the renewal window. The system sends it once per term.
type RenewalDue struct {
	ApplicationID string `json:"applicationId"`
	ENP           string `json:"enp"`
	// ValidTo is the last day of the term the reminder is about.
	ValidTo    string    `json:"validTo"`
	RemindedAt time.Time `json:"remindedAt"`
}

// EventType implementations.
func (ApplicationSubmitted) EventType() string { return TypeApplicationSubmitted }
func (ApplicationClaimed) EventType() string   { return TypeApplicationClaimed }
func (ClaimReleased) EventType() string        { return TypeClaimReleased }
func (InfoRequested) EventType() string        { return TypeInfoRequested }
func (InfoProvided) EventType() string         { return TypeInfoProvided }
func (ApplicationApproved) EventType() string  { return TypeApplicationApproved }
func (ApplicationRejected) EventType() string  { return TypeApplicationRejected }
func (PolicyIssued) EventType() string         { return TypePolicyIssued }
func (AddressChanged) EventType() string       { return TypeAddressChanged }
func (PolicyRenewed) EventType() string        { return TypePolicyRenewed }
func (ApplicationWithdrawn) EventType() string { return TypeApplicationWithdrawn }
func (PolicyExpired) EventType() string        { return TypePolicyExpired }
func (RenewalDue) EventType() string           { return TypeRenewalDue }
