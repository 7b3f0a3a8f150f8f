package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// AccountsMigration names the migration that gives applications submitted
// before the account reservation existed (session 7) their reservation.
const AccountsMigration = "account-reservations"

// MigrationResult is what a migration did.
type MigrationResult struct {
	// Ran is false when the migration had completed before.
	Ran bool
	// Changed counts the reservations written; Conflicts the accounts that
	// already hold two open applications, left for a person to decide.
	Changed, Conflicts int
}

// ReserveAccounts runs AccountsMigration unless it has completed before:
// every open application whose account holds no reservation gets one, so
// that the one-application-per-account rule covers what was submitted
// before it existed. It reads $all once and keeps only each application's
// applicant and status in memory. Running it twice, or on two nodes at
// once, writes nothing twice: a reservation already pointing at its
// application is left alone.
func (s *Service) ReserveAccounts(ctx context.Context) (MigrationResult, error) {
	stream := schema.MigrationStream(AccountsMigration)
	if last, err := s.store.LoadLast(ctx, stream); err != nil {
		return MigrationResult{}, fmt.Errorf("service: %s: %w", AccountsMigration, err)
	} else if last != nil {
		return MigrationResult{}, nil
	}
	type app struct {
		applicant string
		status    application.Status
	}
	apps := map[string]*app{}
	var order []string
	err := s.store.CatchUp(ctx, nil, func(r eventstore.Recorded) error {
		id, ok := strings.CutPrefix(r.Stream, "application-")
		if !ok {
			return nil
		}
		e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
		if errors.Is(err, schema.ErrUnknownType) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s@%d: %w", r.Stream, r.Revision, err)
		}
		a := apps[id]
		if a == nil {
			a = &app{}
			apps[id] = a
			order = append(order, id)
		}
		// Only the status is kept of the fold: the form is not needed.
		st := application.Evolve(application.State{ID: id, ApplicantID: a.applicant, Status: a.status}, e)
		a.applicant, a.status = st.ApplicantID, st.Status
		return nil
	})
	if err != nil {
		return MigrationResult{}, fmt.Errorf("service: %s: %w", AccountsMigration, err)
	}
	meta := events.Metadata{Actor: events.Actor{ID: "migration:" + AccountsMigration, Role: events.RoleSystem}, CorrelationID: AccountsMigration}
	res := MigrationResult{Ran: true}
	for _, id := range order {
		a := apps[id]
		if !a.status.Open() || a.applicant == "" {
			continue
		}
		sl := accountSlot(a.applicant)
		before, err := s.store.LoadLast(ctx, schema.PersonStream(sl.key))
		if err != nil {
			return res, fmt.Errorf("service: %s: %w", AccountsMigration, err)
		}
		err = s.reservePerson(ctx, meta, sl, id, false)
		var ce *cmderr.Error
		switch {
		case errors.As(err, &ce) && ce.Kind == cmderr.Conflict:
			res.Conflicts++
			s.log.WarnContext(ctx, "an account holds two open applications from before the rule; a person must close one",
				"applicant", a.applicant, "application", id, "holder", ce.ExistingApplicationID)
		case err != nil:
			return res, fmt.Errorf("service: %s: %w", AccountsMigration, err)
		default:
			if after, err := s.store.LoadLast(ctx, schema.PersonStream(sl.key)); err == nil && after != nil && (before == nil || after.Revision != before.Revision) {
				res.Changed++
			}
		}
	}
	done := schema.MigrationCompleted{Name: AccountsMigration, Changed: res.Changed, Conflicts: res.Conflicts, CompletedAt: s.now().UTC()}
	if _, err := s.store.Append(ctx, stream, eventstore.NoStream, meta, eventstore.NewEvent{Type: done.EventType(), Data: done}); err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return res, fmt.Errorf("service: %s: record completion: %w", AccountsMigration, err)
	}
	return res, nil
}
