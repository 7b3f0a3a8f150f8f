package schema

import "time"

// Personal data in the contract. The string values under these top-level
// payload keys are personal data (names, birth data, document numbers,
// addresses, contacts, the applicant's own free text): the event store
// adapter seals them with the applicant's data key (events/piicrypt) before
// they are written, so that erasing the key erases them.
//
// The lists are part of the contract: a new field under one of these keys is
// sealed automatically, while a new top-level key is not until it is listed
// here.
func PersonalSections(eventType string) []string {
	switch eventType {
	case TypeApplicationSubmitted:
		return []string{"applicant", "identityDocument", "residenceDocument", "address", "contacts"}
	case TypeInfoProvided:
		return []string{"corrections", "answers"}
	case TypeAddressChanged:
		return []string{"address"}
	case TypePolicyRenewed:
		return []string{"residenceDocument", "identityDocument"}
	case TypeApplicationWithdrawn, TypeConsentWithdrawn:
		return []string{"reason"}
	}
	return nil
}

// PersonalClearKeys are keys inside personal sections that stay readable:
// document type codes, the region code (the queue routes and filters by it)
// and the ids that tie an answer to its question. None identifies a person.
var PersonalClearKeys = map[string]bool{"type": true, "region": true, "questionId": true}

// Event types of erasure and consent.
const (
	TypeApplicantDataErased = "ApplicantDataErased"
	TypeConsentWithdrawn    = "ConsentWithdrawn"
)

// Bases of an erasure.
const (
	// EraseOnRequest is the data subject's demand (152-ФЗ art. 21 part 3).
	EraseOnRequest = "subject_request"
	// EraseConsentWithdrawn follows a withdrawn consent once no law
	// requires keeping the data (art. 21 part 5).
	EraseConsentWithdrawn = "consent_withdrawn"
	// EraseRetentionEnded is the end of the retention period (art. 21
	// part 4).
	EraseRetentionEnded = "retention_ended"
)

// EraseBases lists every erasure basis.
var EraseBases = []string{EraseOnRequest, EraseConsentWithdrawn, EraseRetentionEnded}

// ApplicantDataErased records that the applicant's data key was destroyed:
// every personal value this application's events carried now reads as
// piicrypt.Marker, everywhere, for good. The event itself carries no
// personal data.
type ApplicantDataErased struct {
	ApplicationID string `json:"applicationId"`
	ApplicantID   string `json:"applicantId"`
	// Basis is one of EraseBases.
	Basis    string    `json:"basis"`
	ErasedAt time.Time `json:"erasedAt"`
	// ScansDeleted counts the scan blobs the erasure removed with the key:
	// those of all the applicant's applications and other uploads, so
	// every application erased at once records the same number. A repeat
	// of an erasure that failed halfway counts only what was still there.
	ScansDeleted int `json:"scansDeleted"`
}

// ConsentDocument is the applicant's consent to the processing of personal
// data, kept as a document of its own in the application (152-ФЗ art. 9 as
// amended from 1 September 2025: consent is drawn up separately from any
// other document). It names the exact text agreed to by version and hash,
// and how it was signed. ApplicationSubmitted carries it beside the form,
// not inside it.
type ConsentDocument struct {
	// Version and TextSHA256 identify the consent text (see
	// ConsentTexts); the hash is over the UTF-8 bytes of both languages'
	// texts as published, so a later edit of the wording cannot be passed
	// off as what was agreed.
	Version    string `json:"version"`
	TextSHA256 string `json:"textSha256"`
	// Method is how it was signed: ConsentSignedOnPaper, the signed
	// consent form uploaded as the scan DocumentID.
	Method     string    `json:"method"`
	DocumentID string    `json:"documentId,omitempty"`
	SignedAt   time.Time `json:"signedAt"`
}

// ConsentSignedOnPaper is consent signed by hand and uploaded as a scan.
const ConsentSignedOnPaper = "paper_scan"

// ConsentWithdrawn is the applicant withdrawing the consent (152-ФЗ art. 9
// part 2). An open application closes with it; an issued policy stays on
// record for as long as the law requires, and is erased after that.
type ConsentWithdrawn struct {
	ApplicationID string    `json:"applicationId"`
	WithdrawnAt   time.Time `json:"withdrawnAt"`
	Reason        string    `json:"reason,omitempty"`
	// ClosedApplication is true when the withdrawal closed an open
	// application.
	ClosedApplication bool `json:"closedApplication"`
	// RetainUntil is the last day the policy record must be kept
	// ("YYYY-MM-DD"); empty when nothing must be kept.
	RetainUntil string `json:"retainUntil,omitempty"`
}

// EventType implementations.
func (ApplicantDataErased) EventType() string { return TypeApplicantDataErased }
func (ConsentWithdrawn) EventType() string    { return TypeConsentWithdrawn }

func init() {
	register[ApplicantDataErased](1, nil)
	register[ConsentWithdrawn](1, nil)
}
