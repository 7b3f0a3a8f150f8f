package application

import (
	"slices"
	"time"

	"github.com/omsonline/oms/events/schema"
)

// Status is where an application is in its life.
type Status string

// Statuses. StatusNone is an application that does not exist yet.
const (
	StatusNone          Status = ""
	StatusSubmitted     Status = "submitted"
	StatusInReview      Status = "in_review"
	StatusInfoRequested Status = "info_requested"
	StatusApproved      Status = "approved"
	StatusRejected      Status = "rejected"
	StatusWithdrawn     Status = "withdrawn"
	StatusPolicyActive  Status = "policy_active"
	StatusPolicyExpired Status = "policy_expired"
)

// Statuses lists every status of an existing application.
var Statuses = []Status{
	StatusSubmitted, StatusInReview, StatusInfoRequested, StatusApproved,
	StatusRejected, StatusWithdrawn, StatusPolicyActive, StatusPolicyExpired,
}

var statusNames = map[Status][2]string{
	StatusNone:          {"не подано", "not submitted"},
	StatusSubmitted:     {"подано", "submitted"},
	StatusInReview:      {"на рассмотрении", "in review"},
	StatusInfoRequested: {"запрошены сведения", "information requested"},
	StatusApproved:      {"одобрено", "approved"},
	StatusRejected:      {"отклонено", "rejected"},
	StatusWithdrawn:     {"отозвано", "withdrawn"},
	StatusPolicyActive:  {"полис действует", "policy active"},
	StatusPolicyExpired: {"срок полиса истёк", "policy expired"},
}

// Open reports whether the application holds its person's "one open
// application" slot. Rejected and withdrawn applications are closed; an
// expired policy is not, because it is renewed on the same application.
func (s Status) Open() bool {
	return s != StatusNone && s != StatusRejected && s != StatusWithdrawn
}

// State is an application folded from its events.
type State struct {
	ID          string
	Status      Status
	ApplicantID string
	// SubmittedBy is the actor who submitted the application: the
	// applicant, or the МФЦ operator acting for them. It is recorded in the
	// event's envelope rather than its payload, so whoever folds recorded
	// events sets it (the command service does); a reviewer who submitted
	// an application may not decide it.
	SubmittedBy string
	// Form is the form with every correction applied.
	Form schema.Form
	// Held are the ids of every scan the application has had, replaced
	// ones included: one of them sent again is no new scan (QA: the scan
	// of the old passport was taken for the new one's in a renewal, and a
	// scan the reviewer had asked to replace answered the next request).
	Held []string
	// ReviewerID is the reviewer the application is assigned to.
	ReviewerID string
	// Questions are the questions of the open information request, and
	// AskedAt and AnswerBy when it was made and the last day to answer it
	// (empty in a request recorded before the term existed).
	Questions []schema.Question
	AskedAt   time.Time
	AnswerBy  string
	// InfoRounds counts information requests; question ids use it.
	InfoRounds int
	ENP        string
	// ValidFrom and ValidTo are the policy's uninterrupted cover,
	// "YYYY-MM-DD", inclusive: a renewal before the term ended extends it
	// and keeps ValidFrom, as the policy's document shows it.
	ValidFrom, ValidTo string
	Document           schema.PolicyDocument
	// RemindedFor is the ValidTo of the term the last renewal reminder was
	// about, so a term is reminded of once.
	RemindedFor string
	// ConsentVersion is the consent text the application was signed under;
	// ConsentWithdrawn is set once the applicant withdrew it.
	ConsentVersion   string
	ConsentWithdrawn bool
	// Erased is set once the applicant's personal data were erased; the
	// application then takes no more commands.
	Erased bool
}

// Exists reports whether the application was submitted.
func (s State) Exists() bool { return s.Status != StatusNone }

// Fold evolves the empty state through events.
func Fold(evs ...schema.Event) State {
	var s State
	for _, e := range evs {
		s = Evolve(s, e)
	}
	return s
}

// Evolve applies one event. Unknown events leave the state as it is, so a
// stream written by a newer service still folds.
func Evolve(s State, e schema.Event) State {
	switch e := e.(type) {
	case schema.ApplicationSubmitted:
		s.ID, s.ApplicantID, s.Form = e.ApplicationID, e.ApplicantID, cloneForm(e.Form)
		if e.ConsentDocument != nil {
			s.ConsentVersion = e.ConsentDocument.Version
		}
		s.Status = StatusSubmitted
	case schema.ApplicationClaimed:
		// A claim starts the review of a new application; one released
		// at a later step goes on from there.
		s.ReviewerID = e.ReviewerID
		if s.Status == StatusSubmitted {
			s.Status = StatusInReview
		}
	case schema.ClaimReleased:
		s.ReviewerID = ""
		if s.Status == StatusInReview {
			s.Status = StatusSubmitted
		}
	case schema.InfoRequested:
		s.Questions = append([]schema.Question(nil), e.Questions...)
		s.AskedAt, s.AnswerBy = e.RequestedAt, e.AnswerBy
		s.InfoRounds++
		s.Status = StatusInfoRequested
	case schema.InfoProvided:
		s.Form = applyCorrections(s.Form, e.Corrections)
		if e.Documents != nil {
			s.Form.Documents = append([]schema.DocumentRef(nil), e.Documents...)
		}
		if e.ConsentDocument != nil {
			s.ConsentVersion = e.ConsentDocument.Version
		}
		s.Questions = nil
		s.Status = StatusInReview
	case schema.ApplicationApproved:
		s.Status = StatusApproved
	case schema.ApplicationRejected:
		s.Questions = nil
		s.Status = StatusRejected
	case schema.ApplicationWithdrawn:
		s.Questions = nil
		s.Status = StatusWithdrawn
	case schema.PolicyIssued:
		s.ENP, s.ValidFrom, s.ValidTo, s.Document = e.ENP, e.ValidFrom, e.ValidTo, e.Document
		s.Status = StatusPolicyActive
	case schema.AddressChanged:
		s.Form.Address = e.Address
		s.Document = e.Document
	case schema.PolicyRenewed:
		// By the dates alone, as the read side shows the policy: a term
		// renewed the day after it ended leaves no day uninsured, even if
		// its expiry was recorded in between (lifecycle QA).
		if !continuous(s.ValidTo, e.ValidFrom) {
			s.ValidFrom = e.ValidFrom
		}
		s.ValidTo, s.Document = e.ValidTo, e.Document
		s.Form.ResidenceDocument = e.ResidenceDocument
		if e.IdentityDocument != nil {
			s.Form.IdentityDocument = *e.IdentityDocument
		}
		if e.Documents != nil {
			s.Form.Documents = append([]schema.DocumentRef(nil), e.Documents...)
		}
		if e.ConsentDocument != nil {
			// Signed anew: processing goes on under this consent.
			s.ConsentVersion, s.ConsentWithdrawn = e.ConsentDocument.Version, false
		}
		s.Status = StatusPolicyActive
	case schema.PolicyExpired:
		s.Status = StatusPolicyExpired
	case schema.RenewalDue:
		s.RemindedFor = e.ValidTo
	case schema.ConsentWithdrawn:
		s.ConsentWithdrawn = true
		if e.ClosedApplication {
			s.Questions = nil
			s.Status = StatusWithdrawn
		}
	case schema.ApplicantDataErased:
		s.Erased = true
	}
	for _, d := range s.Form.Documents {
		if !slices.Contains(s.Held, d.ID) {
			s.Held = append(slices.Clip(s.Held), d.ID)
		}
	}
	return s
}

func cloneForm(f schema.Form) schema.Form {
	f.Documents = append([]schema.DocumentRef(nil), f.Documents...)
	return f
}

func applyCorrections(f schema.Form, c schema.Corrections) schema.Form {
	if c.Applicant != nil {
		f.Applicant = *c.Applicant
	}
	if c.IdentityDocument != nil {
		f.IdentityDocument = *c.IdentityDocument
	}
	if c.ResidenceDocument != nil {
		f.ResidenceDocument = *c.ResidenceDocument
	}
	if c.Address != nil {
		f.Address = *c.Address
	}
	if c.Contacts != nil {
		f.Contacts = *c.Contacts
	}
	return f
}

// continuous reports whether a term starting on from follows one ending
// on until without a day between them.
func continuous(until, from string) bool {
	end, ok1 := parseDate(until)
	start, ok2 := parseDate(from)
	return ok1 && ok2 && !start.After(end.AddDate(0, 0, 1))
}

// answerBy is the last day to answer the open request: as the applicant
// was told, or, for a request recorded before the term existed, the term
// counted from when it was made.
func (s State) answerBy(cfg Config) time.Time {
	if d, ok := parseDate(s.AnswerBy); ok {
		return d
	}
	return cfg.answerBy(s.AskedAt)
}
