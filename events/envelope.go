// Package events is the event contract of «ОМС онлайн»: the envelope every
// stored event carries, and (in its subpackages) the event store adapter and
// the embedded EventStoreDB-protocol server.
//
// An event is stored as EventStoreDB event data (the JSON payload) plus
// custom metadata (the JSON envelope below). The envelope travels apart from
// the payload so that infrastructure — projections' audit history, the
// auditor's timeline, idempotency — can read who did what without knowing
// every payload type.
package events

import (
	"context"
	"time"
)

// Actor is who caused an event.
type Actor struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Roles an actor can have.
const (
	RoleApplicant = "applicant"
	RoleReviewer  = "reviewer"
	RoleAuditor   = "auditor"
	RoleOperator  = "operator"
	RoleAdmin     = "admin"
	RoleSystem    = "system"
)

// Envelope is the metadata of one event.
type Envelope struct {
	EventID string `json:"eventId"`
	// Type is the event type, e.g. "ApplicationSubmitted"; it is also the
	// EventStoreDB event type.
	Type string `json:"type"`
	// SchemaVersion of the payload; readers upcast older versions.
	SchemaVersion int    `json:"schemaVersion"`
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	CommandID     string `json:"commandId,omitempty"`
	Actor         Actor  `json:"actor"`
	// OnBehalfOf is the applicant an МФЦ operator acts for.
	OnBehalfOf string    `json:"onBehalfOf,omitempty"`
	OccurredAt time.Time `json:"occurredAt"`
}

// Metadata is what a command handler knows about the request that caused
// its events; the store adapter turns it into envelopes.
type Metadata struct {
	CorrelationID string
	CausationID   string
	CommandID     string
	Actor         Actor
	OnBehalfOf    string
	// At is when the command decided, and becomes the envelopes'
	// OccurredAt, so that a time the events carry (an application's
	// submittedAt) is the time the audit history and time travel see for
	// them. Zero means the time of the append.
	At time.Time
}

type metadataKey struct{}

// WithMetadata attaches request metadata to a context, so that it flows from
// the HTTP layer through command handlers into the envelopes.
func WithMetadata(ctx context.Context, m Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, m)
}

// MetadataFrom returns the metadata attached to ctx, if any.
func MetadataFrom(ctx context.Context) (Metadata, bool) {
	m, ok := ctx.Value(metadataKey{}).(Metadata)
	return m, ok
}

// MaxActorID bounds an actor's id.
const MaxActorID = 128

// ValidActorID accepts what actor ids (an issuer's subjects, the ids an
// МФЦ operator types) are made of: 1 to MaxActorID visible ASCII
// characters. Anything else is refused before it reaches a stream name,
// a log line or a page.
func ValidActorID(s string) bool {
	if s == "" || len(s) > MaxActorID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
