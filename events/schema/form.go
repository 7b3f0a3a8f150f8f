package schema

// Form is the application form as the applicant (or an МФЦ operator) filled
// it in. It is the body of POST /api/v1/applications and, embedded, the bulk
// of ApplicationSubmitted. Validation rules live in command/application; the
// contract only fixes the shape.
type Form struct {
	// Applicant is the person the policy is for.
	Applicant Applicant `json:"applicant"`
	// IdentityDocument is the foreign passport the applicant is identified by;
	// its type, series and number identify the person for the "one open
	// application per person" rule.
	IdentityDocument IdentityDocument `json:"identityDocument"`
	// ResidenceDocument is the document that gives the right to ОМС
	// (326-ФЗ art. 10); its expiry caps the policy's validity.
	ResidenceDocument ResidenceDocument `json:"residenceDocument"`
	// Address is the actual address in Russia; its region decides which
	// territorial fund and which reviewers handle the application.
	Address Address `json:"address"`
	// Contacts are where notifications go.
	Contacts Contacts `json:"contacts"`
	// Documents are the uploaded scans, one per DocumentKind.
	Documents []DocumentRef `json:"documents"`
	// Consent is the consent to the processing of personal data (152-ФЗ).
	// The consent itself is a separate document: the signed scan of kind
	// DocumentConsent, recorded as its own ConsentGiven event.
	Consent bool `json:"consent"`
	// ConsentVersion is the version of the consent text the applicant was
	// shown (GET /api/v1/consent); empty means the version in force.
	ConsentVersion string `json:"consentVersion,omitempty"`
}

// Applicant is the personal data of the insured person, written as in the
// identity document.
type Applicant struct {
	LastName string `json:"lastName"`
	// FirstName is the given name(s).
	FirstName string `json:"firstName"`
	// MiddleName is the patronymic; empty when the document has none.
	MiddleName string `json:"middleName,omitempty"`
	// LatinName is the name in Latin letters as in the passport's
	// machine-readable zone, e.g. "IVANOV IVAN".
	LatinName string `json:"latinName,omitempty"`
	// BirthDate is "YYYY-MM-DD".
	BirthDate  string `json:"birthDate"`
	BirthPlace string `json:"birthPlace"`
	// Citizenship is an ISO 3166-1 alpha-3 code, or "XXA" (ICAO 9303) for a
	// stateless person.
	Citizenship string `json:"citizenship"`
	// Sex is "male" or "female".
	Sex string `json:"sex"`
}

// Identity document types.
const (
	IdentityForeignPassport = "foreign_passport"
)

// IdentityDocument is the document that identifies the applicant.
type IdentityDocument struct {
	// Type is IdentityForeignPassport.
	Type string `json:"type"`
	// Series is empty for passports that have none.
	Series string `json:"series,omitempty"`
	Number string `json:"number"`
	// IssuedAt is "YYYY-MM-DD".
	IssuedAt string `json:"issuedAt"`
	IssuedBy string `json:"issuedBy"`
	// ExpiresAt is "YYYY-MM-DD".
	ExpiresAt string `json:"expiresAt"`
}

// Residence document types.
const (
	// ResidenceRVP is разрешение на временное проживание.
	ResidenceRVP = "rvp"
	// ResidenceVNZh is вид на жительство.
	ResidenceVNZh = "vnzh"
	// ResidenceRefugee is удостоверение беженца (or temporary asylum).
	ResidenceRefugee = "refugee"
	// ResidenceEAEUWorker is the employment contract of a worker from an
	// EAEU member state (Договор о ЕАЭС, art. 96, 98).
	ResidenceEAEUWorker = "eaeu_worker"
	// ResidenceMigrationCard is a migration card; it does not give the right
	// to ОМС and is refused.
	ResidenceMigrationCard = "migration_card"
)

// ResidenceDocument is the document that gives the right to ОМС.
type ResidenceDocument struct {
	// Type is one of the Residence* constants.
	Type   string `json:"type"`
	Series string `json:"series,omitempty"`
	Number string `json:"number"`
	// IssuedAt is "YYYY-MM-DD".
	IssuedAt string `json:"issuedAt"`
	// ExpiresAt is "YYYY-MM-DD"; empty only for a permanent ВНЖ.
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// Address is an address in Russia.
type Address struct {
	// Region is the two-digit code of the subject of the Russian Federation
	// (as in КЛАДР/ФИАС: "77" Moscow, "78" Saint Petersburg).
	Region     string `json:"region"`
	City       string `json:"city"`
	Street     string `json:"street"`
	House      string `json:"house"`
	Building   string `json:"building,omitempty"`
	Apartment  string `json:"apartment,omitempty"`
	PostalCode string `json:"postalCode"`
}

// Contacts of the applicant.
type Contacts struct {
	// Phone is E.164, e.g. "+79161234567".
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// Document kinds, for uploads and for the form's documents.
const (
	DocumentPassport  = "passport"
	DocumentResidence = "residence_document"
	DocumentConsent   = "consent"
)

// DocumentKinds lists every document kind, in the order forms show them.
var DocumentKinds = []string{DocumentPassport, DocumentResidence, DocumentConsent}

// DocumentRef is an uploaded scan referenced by an application. A client
// sends kind and id; the write side fills in the rest from the upload's
// DocumentUploaded event, so events never carry bytes but always carry
// enough to find and verify them.
type DocumentRef struct {
	// Kind is one of DocumentKinds.
	Kind string `json:"kind"`
	// ID is the document id returned by POST /api/v1/documents.
	ID string `json:"id"`
	// SHA256 is the id of the stored blob: the lowercase hex SHA-256 of
	// the scan as stored, sealed with its owner's key, so not the digest
	// of the bytes uploaded (POST /api/v1/documents reports that one).
	SHA256      string `json:"sha256,omitempty"`
	Size        int64  `json:"size,omitempty"`
	ContentType string `json:"contentType,omitempty"`
}
