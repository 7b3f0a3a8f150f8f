// Package history builds the audit history: for each application every
// event in order, with who did it, for whom, when, under which correlation,
// and the field-level diff it made to the application's view. It also keeps
// the current view of each application, which is what the detail endpoint
// serves.
package history

import (
	"context"
	"fmt"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collections owned by the projection.
const (
	Entries      = "history"
	Applications = "applications"
)

// Entry is one event in an application's audit history.
type Entry struct {
	ApplicationID string           `json:"applicationId"`
	Revision      uint64           `json:"revision"`
	Position      uint64           `json:"position"`
	EventID       string           `json:"eventId"`
	Type          string           `json:"type"`
	SchemaVersion int              `json:"schemaVersion"`
	OccurredAt    time.Time        `json:"occurredAt"`
	Actor         events.Actor     `json:"actor"`
	OnBehalfOf    string           `json:"onBehalfOf,omitempty"`
	CorrelationID string           `json:"correlationId,omitempty"`
	CausationID   string           `json:"causationId,omitempty"`
	CommandID     string           `json:"commandId,omitempty"`
	Diff          []appview.Change `json:"diff"`
}

// EntryID orders entries of one application by revision.
func EntryID(appID string, revision uint64) string { return fmt.Sprintf("%s/%012d", appID, revision) }

// Projection builds the history and the application views.
type Projection struct{}

// Name implements runner.Projection.
func (Projection) Name() string { return "history" }

// Collections implements runner.Projection.
func (Projection) Collections() []runner.Collection {
	// Entries are derived from the application views: entries first.
	return []runner.Collection{{Name: Entries, Kind: readstore.KindDocs}, {Name: Applications, Kind: readstore.KindDocs}}
}

// Apply implements runner.Projection.
func (Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	st, ok, err := appview.Next(tx, Applications, ev)
	if !ok || err != nil || !st.Fresh {
		return err
	}
	appID, before, after := st.ApplicationID, st.Before, st.After
	// The entry is written before the view (see Collections), so after a
	// crash between the two the entry may already be there.
	existing, entryExists, err := tx.Get(Entries, EntryID(appID, ev.Revision))
	if err != nil {
		return err
	}
	entryFresh := !entryExists || existing.Position < tx.Position()
	diff, err := appview.Diff(before, after)
	if err != nil {
		return err
	}
	if diff == nil {
		diff = []appview.Change{}
	}
	e := ev.Envelope
	entry := Entry{
		ApplicationID: appID, Revision: ev.Revision, Position: ev.Position, EventID: e.EventID, Type: e.Type,
		SchemaVersion: e.SchemaVersion, OccurredAt: e.OccurredAt.UTC(), Actor: e.Actor, OnBehalfOf: e.OnBehalfOf,
		CorrelationID: e.CorrelationID, CausationID: e.CausationID, CommandID: e.CommandID, Diff: diff,
	}
	if entryFresh {
		if err := tx.Put(Entries, EntryID(appID, ev.Revision), entry, nil); err != nil {
			return err
		}
	}
	return tx.Put(Applications, appID, after, nil)
}
