package schema

import "time"

// TypeSessionEnded is a browser session signed out before its expiry.
const TypeSessionEnded = "SessionEnded"

// SessionStream is the stream of one browser session, by its token's id
// (the JWT's jti). It exists only once the session has ended: a session
// token is a signature, not a record, and what every node must learn is
// only that one was withdrawn before its expiry.
func SessionStream(sessionID string) string { return "session-" + sessionID }

// SessionEnded withdraws a session token: no node takes it again, though
// its signature and expiry still hold. ExpiresAt is the token's own
// expiry, after which the record no longer matters.
type SessionEnded struct {
	SessionID string    `json:"sessionId"`
	ExpiresAt time.Time `json:"expiresAt"`
	EndedAt   time.Time `json:"endedAt"`
}

// EventType implements Event.
func (SessionEnded) EventType() string { return TypeSessionEnded }
