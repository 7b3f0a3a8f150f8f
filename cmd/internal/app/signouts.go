package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// signOuts keeps the sessions signed out before their expiry in the event
// store (authn.Revocations): every node reads it, and the audit trail shows
// who signed out when.
type signOuts struct{ es *eventstore.Store }

func (s signOuts) Revoke(ctx context.Context, actor events.Actor, sessionID string, expires time.Time) error {
	now := time.Now().UTC()
	ev := schema.SessionEnded{SessionID: sessionID, ExpiresAt: expires.UTC(), EndedAt: now}
	typ, v, data, err := schema.Encode(ev)
	if err != nil {
		return err
	}
	md := events.Metadata{Actor: actor, CorrelationID: uuid.NewString(), At: now}
	if _, err := s.es.Append(ctx, schema.SessionStream(sessionID), eventstore.Any, md,
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		return fmt.Errorf("app: record a sign-out: %w", err)
	}
	return nil
}

func (s signOuts) Revoked(ctx context.Context, sessionID string) (bool, error) {
	evs, err := s.es.LoadFrom(ctx, schema.SessionStream(sessionID), 0, 1)
	if err != nil {
		return false, fmt.Errorf("app: read a sign-out: %w", err)
	}
	return len(evs) > 0, nil
}
