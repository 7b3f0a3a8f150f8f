package schema

import "time"

// TypePersonalDataAccessed is the event of the staff access log (issue 7):
// a member of staff read an application's personal data.
const TypePersonalDataAccessed = "PersonalDataAccessed"

// What a PersonalDataAccessed event says was read. A scan is
// AccessDocument + its kind, e.g. "document:passport".
const (
	AccessApplication = "application" // the application view
	AccessHistory     = "history"     // the audit timeline with its diffs
	AccessState       = "state"       // the auditor's time travel
	AccessQueue       = "queue"       // a page of the reviewer queue (names, birth dates)
	AccessCabinet     = "cabinet"     // an applicant's cabinet, read by an МФЦ operator
	AccessPolicyPDF   = "policy_pdf"  // the printable policy extract
	AccessDocument    = "document:"   // a scan, followed by its kind
)

// AccessStream is the stream of one member of staff's reads. The log is
// kept apart from the application streams on purpose: a read must never
// move an application's revision, which reviewers send back in If-Match,
// and appends here use "any" revision, so reads never conflict with each
// other or with commands.
func AccessStream(actorID string) string { return "access-" + actorID }

// PersonalDataAccessed records that the envelope's actor (with its role and,
// for an МФЦ operator, the applicant acted for) was served personal data.
// It carries identifiers only, never the data itself, so the log can be
// kept as long as the law wants without becoming a second copy of what it
// protects.
//
// One read may cover many applications (a queue page), and costs one
// event. The audit history shows the event in the history of every
// application it names; for a scan it also names the applications whose
// forms refer to the scan at that point of the log (resolved by the history
// projection, which keeps that index, so a rebuild resolves it the same
// way).
type PersonalDataAccessed struct {
	// ApplicationIDs are the applications whose data was served.
	ApplicationIDs []string `json:"applicationIds"`
	// ApplicantID is the person whose data was read, when the read was of
	// one person's data (a cabinet, a scan, a policy).
	ApplicantID string `json:"applicantId,omitempty"`
	// DocumentID is the scan read, for What "document:<kind>".
	DocumentID string `json:"documentId,omitempty"`
	// What is one of the Access* codes.
	What string `json:"what"`
	// Route is the method and route template served, e.g.
	// "GET /api/v1/applications/:id" (never the raw path or query).
	Route      string    `json:"route"`
	AccessedAt time.Time `json:"accessedAt"`
}

// EventType implements Event.
func (PersonalDataAccessed) EventType() string { return TypePersonalDataAccessed }

// The access log registers itself, so that the event contract of the
// applications (registry.go) stays as it is.
func init() {
	register[PersonalDataAccessed](1, nil)
}
