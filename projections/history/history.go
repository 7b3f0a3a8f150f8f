// Package history builds the audit history: for each application every
// event in order, with who did it, for whom, when, under which correlation,
// and the field-level diff it made to the application's view. It also keeps
// the current view of each application, which is what the detail endpoint
// serves, and the staff access log: every read of the application's
// personal data by staff (schema.PersonalDataAccessed), with who read what
// and when.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collections owned by the projection.
const (
	Entries      = "history"
	Applications = "applications"
	// Access is the staff access log, one AccessEntry per application per
	// PersonalDataAccessed event. It is a collection of its own rather than
	// entries among the events: the timeline stays the application's
	// stream, revision by revision, and the log (which grows with every
	// read) pages on its own.
	Access = "history_access"
	// Documents maps a scan to the applications whose forms have referred
	// to it, and to the staff reads of it, so that every read of a scan
	// lands in the access log of every application that ever held it.
	Documents = "history_documents"
	// Numbers maps an application's number (Number) to the applications
	// that have it, for staff to find one by the number a person quotes.
	Numbers = "history_numbers"
)

// Number is the number the pages give an application: the last 8 hex
// digits of its id, which are random (a UUIDv7's first are its clock).
func Number(appID string) string {
	if len(appID) > 8 {
		return strings.ToLower(appID[len(appID)-8:])
	}
	return strings.ToLower(appID)
}

// NumberIndex is a Numbers entry: the applications with the number, in
// the order they were submitted (two share one rarely: 1 in 4 billion).
type NumberIndex struct {
	Applications []string `json:"applications"`
}

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

// AccessEntry is one read of an application's personal data by staff.
type AccessEntry struct {
	ApplicationID string `json:"applicationId"`
	// Position is the $all position of the PersonalDataAccessed event.
	Position   uint64       `json:"position"`
	EventID    string       `json:"eventId"`
	AccessedAt time.Time    `json:"accessedAt"`
	Actor      events.Actor `json:"actor"`
	OnBehalfOf string       `json:"onBehalfOf,omitempty"`
	// What is a schema.Access* code, e.g. "history" or "document:passport".
	What       string `json:"what"`
	Route      string `json:"route"`
	DocumentID string `json:"documentId,omitempty"`
	// CorrelationID and CausationID (the request id) find the request in
	// the logs.
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	// ApplicantID and ApplicationIDs are set in a person's log (see
	// ApplicantAccessKey), where ApplicationID is empty: whose data, and
	// which of their applications the read served.
	ApplicantID    string   `json:"applicantId,omitempty"`
	ApplicationIDs []string `json:"applicationIds,omitempty"`
}

// AccessEntryID orders the access log of one application by $all
// position, which is the order the reads were recorded in. The position is
// unique per event, so a replayed event writes the same entry again instead
// of a second one.
func AccessEntryID(appID string, position uint64) string {
	return fmt.Sprintf("%s/%020d", appID, position)
}

// documentApps is a Documents entry: the applications that referred to a
// scan, each with the position from which on it did, and the positions of
// the staff reads of the scan.
//
// A read lands in the log of every application that ever held the scan,
// whether it came before the application took the scan in or after: the
// scan is the applicant's data either way (an МФЦ operator reads it before
// the applicant submits), and only a rule blind to the order of the two
// gives the same log live, after a crash replay and after a parked event
// is replayed out of order as a rebuild does. Each pair of a read and an
// application is written by whichever of the read and the application's
// taking the scan in comes later in $all, so that a replay after a crash
// writes every entry at the position a rebuild does; an event parked and
// replayed out of order writes the same entries, at its own position.
type documentApps struct {
	Applications []documentApp `json:"applications"`
	// Reads are the $all positions of the reads, in order;
	// the read itself is kept under ScanAccessKey.
	Reads []uint64 `json:"reads,omitempty"`
}

type documentApp struct {
	ApplicationID string `json:"applicationId"`
	// Since is the position of the event that first put the scan into the
	// application's form: reads before it get into the application's log
	// with that event, reads after it with themselves.
	Since uint64 `json:"since"`
}

// ScanAccessKey is the key under which the Access collection keeps the
// reads of a scan (as AccessEntryID(ScanAccessKey(id), position), with no
// application id), to copy them into the log of an application that takes
// the scan in later. It cannot be an application's id, so no application's
// log lists them.
func ScanAccessKey(documentID string) string { return "document-" + documentID }

// ApplicantAccessKey is the key under which the Access collection keeps
// the reads of one person's data (as AccessEntryID(ApplicantAccessKey(id),
// position)): of their applications, cabinet, scans and policies, scans
// never put into a form included, which no application's log lists. The
// id is escaped, so that no person's prefix is another's ("a" and "a/b").
func ApplicantAccessKey(applicantID string) string {
	return "applicant-" + url.PathEscape(applicantID)
}

// Projection builds the history and the application views.
type Projection struct{}

// Name implements runner.Projection.
func (Projection) Name() string { return "history" }

// Collections implements runner.Projection.
func (Projection) Collections() []runner.Collection {
	// Entries and the scan index are derived from the application views:
	// they go first, so a view that has an event implies they have it too.
	return []runner.Collection{
		// An entry is written once, by its event, and read back only by
		// a replay or an erasure; so is an access-log entry.
		{Name: Entries, Kind: readstore.KindDocs, Uncached: true},
		{Name: Documents, Kind: readstore.KindDocs},
		{Name: Numbers, Kind: readstore.KindDocs},
		{Name: Access, Kind: readstore.KindDocs, Uncached: true},
		{Name: Applications, Kind: readstore.KindDocs},
	}
}

// Apply implements runner.Projection.
func (Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	switch ev.Envelope.Type {
	case schema.TypePersonalDataAccessed:
		return applyAccess(tx, ev)
	case schema.TypeDocumentUploaded:
		// A scan's id is new with its upload, so no form has referred to it
		// yet: telling the runner spares the submission that refers to it
		// a store read per scan that would find nothing.
		if id, ok := strings.CutPrefix(ev.Stream, "document-"); ok && ev.Revision == 0 {
			return tx.Unwritten(Documents, id)
		}
		return nil
	}
	st, ok, err := appview.Next(tx, Applications, ev)
	if !ok || err != nil || !st.Fresh {
		return err
	}
	appID, before, after := st.ApplicationID, st.Before, st.After
	if ev.Envelope.Type == schema.TypeApplicantDataErased {
		if err := eraseEntries(tx, appID, ev.Revision); err != nil {
			return err
		}
		// The erasure's own entry must not show the values it removed
		// (on a copy: before is shared, see appview.Step).
		erased := *before
		appview.Erase(&erased)
		before = &erased
	}
	// The entry is written before the view (see Collections), so after a
	// crash between the two (on a store that does not flush atomically)
	// the entry may already be there, perhaps rewritten by a later
	// erasure that must not be undone.
	entryFresh := true
	if !tx.FirstApply() {
		existing, entryExists, err := tx.Get(Entries, EntryID(appID, ev.Revision))
		if err != nil {
			return err
		}
		entryFresh = !entryExists || existing.Position < tx.Position()
	}
	var diff []appview.Change
	if st.Created {
		diff = appview.Created(after)
	} else if diff, err = appview.Diff(before, after); err != nil {
		return err
	}
	if diff == nil {
		diff = []appview.Change{}
	}
	e := ev.Envelope
	entry := &Entry{
		ApplicationID: appID, Revision: ev.Revision, Position: ev.Position, EventID: e.EventID, Type: e.Type,
		SchemaVersion: e.SchemaVersion, OccurredAt: e.OccurredAt.UTC(), Actor: e.Actor, OnBehalfOf: e.OnBehalfOf,
		CorrelationID: e.CorrelationID, CausationID: e.CausationID, CommandID: e.CommandID, Diff: diff,
	}
	if entryFresh {
		if err := tx.Put(Entries, EntryID(appID, ev.Revision), entry, nil); err != nil {
			return err
		}
	}
	if err := indexDocuments(tx, appID, before.Form.Documents, after.Form.Documents); err != nil {
		return err
	}
	if st.Created {
		if err := indexNumber(tx, appID); err != nil {
			return err
		}
	}
	return tx.Put(Applications, appID, after, nil)
}

// Attached reports whether an application's form refers, or referred, to
// a scan: whether the scan index names an application for it (a staff read
// of a loose scan writes an entry with none).
func Attached(ctx context.Context, store readstore.Store, documentID string) (bool, error) {
	d, err := store.Get(ctx, Documents, documentID)
	switch {
	case errors.Is(err, readstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("history: scan index: %w", err)
	}
	var idx documentApps
	if err := json.Unmarshal(d.Body, &idx); err != nil {
		return false, fmt.Errorf("history: scan index %s: %w", documentID, err)
	}
	return len(idx.Applications) > 0, nil
}

// indexDocuments adds the application to the index entry of every scan its
// form gained, and the scan's reads known so far to its access log. A scan
// that leaves the form (replaced by a newer one) stays indexed: it was part
// of the application's data, and reading it still is reading that.
func indexDocuments(tx *runner.Tx, appID string, before, after []schema.DocumentRef) error {
	for _, d := range after {
		if d.ID == "" || slices.ContainsFunc(before, func(b schema.DocumentRef) bool { return b.ID == d.ID }) {
			continue
		}
		var idx documentApps
		if _, _, err := tx.GetJSON(Documents, d.ID, &idx); err != nil {
			return err
		}
		if !slices.ContainsFunc(idx.Applications, func(a documentApp) bool { return a.ApplicationID == appID }) {
			// Else written before a crash, with this very event; its reads
			// are copied again, for the copies may not have been flushed.
			// A new slice: the value read may be shared with the runner's cache.
			idx.Applications = append(slices.Clip(idx.Applications), documentApp{ApplicationID: appID, Since: tx.Position()})
			if err := tx.Put(Documents, d.ID, idx, nil); err != nil {
				return err
			}
		}
		// Every read known, the later ones too: they are known ahead of
		// this event only after a crash, when they are applied again
		// next, or after this event was parked, when they were applied
		// without this application in the index.
		for _, pos := range idx.Reads {
			var read AccessEntry
			exists, _, err := tx.GetJSON(Access, AccessEntryID(ScanAccessKey(d.ID), pos), &read)
			if err != nil {
				return err
			}
			if !exists {
				// A crash flushed the index but not the log: the read is
				// applied again after a crash before this event if it came
				// before, and writes this entry itself if it came after.
				continue
			}
			read.ApplicationID = appID
			if err := tx.Put(Access, AccessEntryID(appID, pos), read, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexNumber adds the application to its number's entry, once.
func indexNumber(tx *runner.Tx, appID string) error {
	var idx NumberIndex
	if _, _, err := tx.GetJSON(Numbers, Number(appID), &idx); err != nil {
		return err
	}
	if slices.Contains(idx.Applications, appID) {
		return nil // written before a crash, with this very event
	}
	// A new slice: the value read may be shared with the runner's cache.
	idx.Applications = append(slices.Clip(idx.Applications), appID)
	return tx.Put(Numbers, Number(appID), idx, nil)
}

// applyAccess writes one access-log entry for every application the read
// covered. The entry's id is derived from the event's position, so applying
// the event again (a replay after a crash) rewrites the same entries with
// the same content: never a duplicate, and equal to a rebuild.
func applyAccess(tx *runner.Tx, ev eventstore.Recorded) error {
	p, err := schema.Decode(ev.Envelope.Type, ev.Envelope.SchemaVersion, ev.Data)
	if err != nil {
		return fmt.Errorf("history: %s@%d: %w", ev.Stream, ev.Revision, err)
	}
	a, ok := p.(schema.PersonalDataAccessed)
	if !ok {
		return fmt.Errorf("history: %s@%d: %T is not an access record", ev.Stream, ev.Revision, p)
	}
	e := ev.Envelope
	at := a.AccessedAt.UTC()
	if a.AccessedAt.IsZero() {
		at = e.OccurredAt.UTC()
	}
	entry := AccessEntry{
		Position: ev.Position, EventID: e.EventID, AccessedAt: at,
		Actor: e.Actor, OnBehalfOf: e.OnBehalfOf, What: a.What, Route: a.Route, DocumentID: a.DocumentID,
		CorrelationID: e.CorrelationID, CausationID: e.CausationID,
	}
	apps := slices.Clone(a.ApplicationIDs)
	if a.DocumentID != "" {
		var idx documentApps
		if _, _, err := tx.GetJSON(Documents, a.DocumentID, &idx); err != nil {
			return err
		}
		for _, x := range idx.Applications {
			// An application that took the scan in later copied the reads
			// known then; a parked read replayed now was not among them.
			if x.Since < tx.Position() || tx.ParkedReplay() {
				apps = append(apps, x.ApplicationID)
			}
		}
		// Kept for an application that takes the scan in later (see
		// documentApps). It is written again on a replay after a crash,
		// which may have flushed the index but not the log.
		if err := tx.Put(Access, AccessEntryID(ScanAccessKey(a.DocumentID), ev.Position), entry, nil); err != nil {
			return err
		}
		if i, known := slices.BinarySearch(idx.Reads, ev.Position); !known {
			// In order, a parked read replayed late too, as a rebuild
			// lists them.
			idx.Reads = slices.Insert(slices.Clip(idx.Reads), i, ev.Position)
			if err := tx.Put(Documents, a.DocumentID, idx, nil); err != nil {
				return err
			}
		}
	}
	slices.Sort(apps)
	apps = slices.Compact(apps)
	people := map[string][]string{}
	if a.ApplicantID != "" {
		people[a.ApplicantID] = nil
	}
	for _, id := range apps {
		if id == "" {
			continue
		}
		entry.ApplicationID = id
		if err := tx.Put(Access, AccessEntryID(id, ev.Position), entry, nil); err != nil {
			return err
		}
		// A queue page or a history names applications only: whose they
		// are, the view says.
		var v *appview.View
		if exists, _, err := tx.GetJSON(Applications, id, &v); err != nil {
			return err
		} else if exists && v != nil && v.ApplicantID != "" {
			people[v.ApplicantID] = append(people[v.ApplicantID], id)
		}
	}
	entry.ApplicationID = ""
	for person, ids := range people {
		e := entry
		e.ApplicantID, e.ApplicationIDs = person, ids
		if err := tx.Put(Access, AccessEntryID(ApplicantAccessKey(person), ev.Position), e, nil); err != nil {
			return err
		}
	}
	return nil
}
