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

// DocumentsMigration names the migration that reserves, under the second
// form of the person key (application.PersonKey: series and number read as
// one, and the issuing country), the identity document of every
// application open when that form came in. Until it has run, a submission
// is not checked against those applications' documents.
const DocumentsMigration = "document-reservations-v2"

// ResidencesMigration names the migration that reserves the residence
// document (application.ResidenceKey) of every application open when that
// lock came in. Until it has run, a submission is not checked against
// those applications' residence documents.
const ResidencesMigration = "residence-reservations"

// MigrationResult is what a migration did.
type MigrationResult struct {
	// Ran is false when the migration had completed before.
	Ran bool
	// Changed counts the reservations written; Conflicts the people who
	// already hold two open applications, left for a person to decide.
	Changed, Conflicts int
}

// ReserveAccounts runs AccountsMigration unless it has completed before:
// every open application whose account holds no reservation gets one, so
// that the one-application-per-account rule covers what was submitted
// before it existed.
func (s *Service) ReserveAccounts(ctx context.Context) (MigrationResult, error) {
	return s.reserveOpen(ctx, AccountsMigration, keepNothing, func(a openApp) (slot, bool) { return accountSlot(a.applicant), true })
}

// ReserveDocuments runs DocumentsMigration unless it has completed before:
// every open application's identity document is reserved under the key's
// second form, so that the one-application-per-document rule covers what
// was submitted before it. Two open applications found to share a document
// (the split that the first form missed) are logged for a person to close
// one.
func (s *Service) ReserveDocuments(ctx context.Context) (MigrationResult, error) {
	return s.reserveOpen(ctx, DocumentsMigration, keepIdentity, func(a openApp) (slot, bool) {
		return s.identitySlot(application.PersonKey(s.opts.PersonSecret, schema.Form{IdentityDocument: a.doc}), a.applicant, false), true
	})
}

// ReserveResidences runs ResidencesMigration unless it has completed
// before: every open application's residence document is reserved, so
// that no second account gets a policy on a permit an older application
// holds. Two open applications found to share one are logged for a person
// to close one.
func (s *Service) ReserveResidences(ctx context.Context) (MigrationResult, error) {
	return s.reserveOpen(ctx, ResidencesMigration, keepResidence, func(a openApp) (slot, bool) {
		key := application.ResidenceKey(s.opts.PersonSecret, schema.Form{ResidenceDocument: a.res})
		return s.residenceSlot(key, a.applicant, false), key != ""
	})
}

// What of the form a migration keeps while it reads the event log.
const (
	keepNothing = iota
	keepIdentity
	keepResidence
)

// openApp is what a migration keeps of an application while it reads the
// event log: a million of them must fit in memory, so not the whole state.
type openApp struct {
	applicant string
	status    application.Status
	erased    bool
	doc       schema.IdentityDocument // kept only when the migration needs it
	res       schema.ResidenceDocument
}

// reserveOpen runs the migration name unless it has completed before: it
// reads $all once, folds every application into an openApp (with its
// identity or residence document, as keep says), and reserves slotOf of
// each open one whose data were not erased, where slotOf has one. Running it twice, or on two nodes at once, writes
// nothing twice: a reservation already pointing at its application is left
// alone.
func (s *Service) reserveOpen(ctx context.Context, name string, keep int, slotOf func(openApp) (slot, bool)) (MigrationResult, error) {
	stream := schema.MigrationStream(name)
	if last, err := s.store.LoadLast(ctx, stream); err != nil {
		return MigrationResult{}, fmt.Errorf("service: %s: %w", name, err)
	} else if last != nil {
		return MigrationResult{}, nil
	}
	apps := map[string]openApp{}
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
		a, seen := apps[id]
		if !seen {
			order = append(order, id)
		}
		st := application.Evolve(application.State{ID: id, ApplicantID: a.applicant, Status: a.status, Erased: a.erased,
			Form: schema.Form{IdentityDocument: a.doc, ResidenceDocument: a.res}}, e)
		a = openApp{applicant: st.ApplicantID, status: st.Status, erased: st.Erased}
		switch keep {
		case keepIdentity:
			a.doc = st.Form.IdentityDocument
		case keepResidence:
			a.res = st.Form.ResidenceDocument
		}
		apps[id] = a
		return nil
	})
	if err != nil {
		return MigrationResult{}, fmt.Errorf("service: %s: %w", name, err)
	}
	meta := events.Metadata{Actor: events.Actor{ID: "migration:" + name, Role: events.RoleSystem}, CorrelationID: name}
	res := MigrationResult{Ran: true}
	for _, id := range order {
		a := apps[id]
		if !a.status.Open() || a.applicant == "" || a.erased {
			continue
		}
		sl, ok := slotOf(a)
		if !ok {
			continue
		}
		before, err := s.store.LoadLast(ctx, schema.PersonStream(sl.key))
		if err != nil {
			return res, fmt.Errorf("service: %s: %w", name, err)
		}
		err = s.reservePerson(ctx, meta, sl, id, false)
		var ce *cmderr.Error
		switch {
		case errors.As(err, &ce) && ce.Code == "contention":
			// Not a second application but one in the middle of its
			// submission: unknown yet, so the migration runs again at the
			// next start rather than record a conflict that is none.
			return res, fmt.Errorf("service: %s: application %s: %w", name, id, err)
		case errors.As(err, &ce) && ce.Kind == cmderr.Conflict:
			res.Conflicts++
			s.log.WarnContext(ctx, "a person holds two open applications from before the rule; a person must close one",
				"migration", name, "applicant", a.applicant, "application", id, "holder", ce.ExistingApplicationID)
		case err != nil:
			return res, fmt.Errorf("service: %s: %w", name, err)
		default:
			if after, err := s.store.LoadLast(ctx, schema.PersonStream(sl.key)); err == nil && after != nil && (before == nil || after.Revision != before.Revision) {
				res.Changed++
			}
		}
	}
	done := schema.MigrationCompleted{Name: name, Changed: res.Changed, Conflicts: res.Conflicts, CompletedAt: s.now().UTC()}
	if _, err := s.store.Append(ctx, stream, eventstore.NoStream, meta, eventstore.NewEvent{Type: done.EventType(), Data: done}); err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return res, fmt.Errorf("service: %s: record completion: %w", name, err)
	}
	return res, nil
}
