package schema

import "time"

// An МФЦ operator acts for an applicant only during a visit the applicant
// opened: the applicant shows the operator a one-time code from their
// cabinet, and the operator's acting for them is bounded in time. Without
// it any operator could act for anyone whose id they typed or guessed.
const (
	TypeVisitCodeIssued  = "VisitCodeIssued"
	TypeVisitCodeRefused = "VisitCodeRefused"
	TypeVisitOpened      = "VisitOpened"
	TypeVisitClosed      = "VisitClosed"
)

// VisitStream is the stream of one applicant's МФЦ visits: the codes they
// were given, the wrong codes typed, the visits opened and closed. It is
// kept apart from the application streams so that a visit never moves an
// application's revision.
func VisitStream(applicantID string) string { return "visit-" + applicantID }

// VisitCodeIssued gives the applicant a code to show an МФЦ operator. Only
// a keyed digest of the code is kept: the stream is read by staff and
// tools, and the code itself must stay with the person. A new code
// replaces the one before it.
type VisitCodeIssued struct {
	CodeDigest string    `json:"codeDigest"`
	IssuedAt   time.Time `json:"issuedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// EventType implements Event.
func (VisitCodeIssued) EventType() string { return TypeVisitCodeIssued }

// VisitCodeRefused is a wrong code typed by an operator; enough of them
// void the code, so that six digits cannot be guessed.
type VisitCodeRefused struct {
	OperatorID string    `json:"operatorId"`
	RefusedAt  time.Time `json:"refusedAt"`
}

// EventType implements Event.
func (VisitCodeRefused) EventType() string { return TypeVisitCodeRefused }

// VisitOpened lets OperatorID act for the applicant until Until. It uses
// up the codes given. CodeDigest and CodeExpiresAt are the code it was
// opened with, so that the same form sent again is known for what it is.
type VisitOpened struct {
	OperatorID    string    `json:"operatorId"`
	OpenedAt      time.Time `json:"openedAt"`
	Until         time.Time `json:"until"`
	CodeDigest    string    `json:"codeDigest,omitempty"`
	CodeExpiresAt time.Time `json:"codeExpiresAt"`
}

// EventType implements Event.
func (VisitOpened) EventType() string { return TypeVisitOpened }

// VisitClosed ends OperatorID's visit, or every operator's visit and the
// code not yet used when OperatorID is empty (the applicant closed them).
type VisitClosed struct {
	OperatorID string    `json:"operatorId,omitempty"`
	ClosedAt   time.Time `json:"closedAt"`
}

// EventType implements Event.
func (VisitClosed) EventType() string { return TypeVisitClosed }
