package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/readstore"
)

// Eraser destroys a data subject's key; *piicrypt.Keyring implements it.
type Eraser interface {
	Erase(ctx context.Context, subject string) error
	// Known reports whether the subject ever had a key (something of
	// theirs was sealed), erased or not.
	Known(ctx context.Context, subject string) (bool, error)
}

// BlobDeleter removes scan blobs; every readstore adapter implements it.
type BlobDeleter interface {
	OpenBlob(ctx context.Context, sha256 string) (io.ReadCloser, readstore.BlobInfo, error)
	DeleteBlob(ctx context.Context, sha256 string) error
}

// Erasure is the outcome of EraseApplicant.
type Erasure struct {
	ApplicantID string `json:"applicantId"`
	// Applications are the applicant's applications with the record of
	// their erasure: made now, or, for one erased before, that one.
	Applications []Result `json:"applications"`
	// RecordedNow counts the applications whose erasure this call
	// recorded; on a repeat it is 0.
	RecordedNow  int `json:"recordedNow"`
	ScansDeleted int `json:"scansDeleted"`
	// KeyDestroyed is true once the applicant's data key is gone: every
	// scan they uploaded, referred to by an application or not, is then
	// ciphertext nobody can open.
	KeyDestroyed bool `json:"keyDestroyed"`
}

// EraseApplicant erases an applicant's personal data (152-ФЗ art. 21): it
// checks that the law lets every listed application be erased, destroys the
// applicant's data key, deletes their scans (those of the applications and
// any other they uploaded) and records ApplicantDataErased in each
// application. The event store is not touched otherwise: it stays
// append-only and whole, its sealed personal fields simply no longer open.
//
// applicationIDs must be all of the applicant's applications (the caller
// takes them from the cabinet read model): the key is per applicant, so
// whatever is not listed becomes unreadable without an erasure record. A
// repeat after a failure finishes the job; applications already erased are
// skipped.
func (s *Service) EraseApplicant(ctx context.Context, req Request, applicantID, basis string, applicationIDs []string) (Erasure, error) {
	if s.opts.Keys == nil || s.opts.Blobs == nil {
		return Erasure{}, errors.New("service: erasure needs Options.Keys and Options.Blobs")
	}
	if req.Meta.Actor.Role != events.RoleAdmin {
		return Erasure{}, cmderr.New(cmderr.Forbidden, "wrong_role", cmderr.T(
			"Удалять персональные данные может только администратор.", "Only an administrator may erase personal data."))
	}
	if applicantID == "" {
		return Erasure{}, cmderr.New(cmderr.BadRequest, "no_applicant", cmderr.T("Укажите заявителя.", "Name the applicant."))
	}
	// Erasures of one applicant by two nodes at once remain possible; each
	// step is idempotent, so nothing is lost, but both may count as theirs
	// what the other destroyed.
	unlock, err := s.erasing.lock(ctx, applicantID)
	if err != nil {
		return Erasure{}, fmt.Errorf("service: wait for another erasure of %s: %w", applicantID, err)
	}
	defer unlock()
	out := Erasure{ApplicantID: applicantID, Applications: []Result{}}
	env := application.Env{Now: s.now(), Caller: application.CallerFrom(req.Meta), Config: s.cfg}
	// A bad basis is wrong whatever the applications; checked in the loop
	// below it came back prefixed with the first application's id.
	if err := application.CheckEraseBasis(basis, env); err != nil {
		return Erasure{}, err
	}
	if len(applicationIDs) == 0 {
		// Scans uploaded, nothing submitted: no application records the
		// erasure, but the scans are personal data all the same. The key
		// they were sealed with goes and their blobs are deleted (see
		// uploadsOf); only a subject never seen is refused (a mistyped id
		// must not read as done).
		known, err := s.opts.Keys.Known(ctx, applicantID)
		if err != nil {
			return Erasure{}, fmt.Errorf("service: look up the key of %s: %w", applicantID, err)
		}
		if !known {
			return Erasure{}, cmderr.New(cmderr.NotFound, "applicant_not_found", cmderr.T(
				"У заявителя нет ни заявлений, ни загруженных сканов.", "The applicant has neither applications nor uploaded scans."))
		}
	}
	// Scans uploaded and never put into a form (replaced before
	// submitting, or nothing submitted at all) belong to no application:
	// they are found in the event store, once here, before anything is
	// destroyed (a store that cannot answer stops the erasure) and before
	// the applications are checked (the scan is slow; an application
	// submitted during it must still be caught by that check), and once
	// after the key is gone, for uploads recorded meanwhile. An upload
	// recorded later than that finds the key gone and deletes its own scan
	// (document.Service.Upload).
	from, err := s.store.Head(ctx)
	if err != nil {
		return Erasure{}, fmt.Errorf("service: find the uploads of %s: %w", applicantID, err)
	}
	uploads, err := s.firstUploadScan(ctx, applicantID)
	if err != nil {
		return Erasure{}, err
	}
	// From the checks below until the erasure is recorded, no command of
	// this applicant's runs on this node (see run): one landing between the
	// check and the key's destruction (a renewal signing the consent anew,
	// a new submission the account check missed, a status the retention
	// rules would keep) got its data destroyed on a basis checked without
	// it. Taken after the slow scan, so commands wait for the decisive part
	// only. A command on another node is not held back: as with two
	// erasures at once, only a single node (the embedded store's only
	// deployment) is covered.
	release, err := s.subjects.lock(ctx, applicantID)
	if err != nil {
		return Erasure{}, fmt.Errorf("service: wait for the commands of %s: %w", applicantID, err)
	}
	defer release()
	// The list came from the cabinet, a read model: one that lags (a
	// parked event, a submission racing this erasure) must not leave an
	// application out, or its data would become unreadable with no
	// erasure recorded and the retention rules unchecked. The account's
	// reservations are the write side's record of the applications it
	// submitted since the account rule (and of those open when its
	// migration ran); one missing from the list stops the erasure.
	reserved, err := s.accountApplications(ctx, applicantID)
	if err != nil {
		return Erasure{}, err
	}
	var missing []string
	for _, id := range reserved {
		if !slices.Contains(applicationIDs, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return Erasure{}, cmderr.New(cmderr.Conflict, "applications_not_listed", cmderr.T(
			"У заявителя есть заявления, которых ещё нет в его кабинете ("+strings.Join(missing, ", ")+"); повторите удаление позже.",
			"The applicant has applications their cabinet does not show yet ("+strings.Join(missing, ", ")+"); retry the erasure later."))
	}
	var todo []string
	var scans []string
	var done []Result // erased before: a repeat lists them with their erasure
	withdrawn := false
	for _, id := range applicationIDs {
		l, err := s.load(ctx, id)
		if err != nil {
			return Erasure{}, err
		}
		if !l.exists {
			return Erasure{}, cmderr.New(cmderr.NotFound, "application_not_found", cmderr.T("Заявление "+id+" не найдено.", "No application "+id+"."))
		}
		if l.state.ApplicantID != applicantID {
			return Erasure{}, cmderr.New(cmderr.BadRequest, "not_this_applicant", cmderr.T(
				"Заявление "+id+" принадлежит другому заявителю.", "Application "+id+" belongs to another applicant."))
		}
		withdrawn = withdrawn || l.state.ConsentWithdrawn
		if l.state.Erased {
			if r, ok := l.erasure(); ok {
				done = append(done, Result{ApplicationID: id, Revision: r.Revision, Position: r.Position})
			}
			continue
		}
		// Decide now, before anything is destroyed: one application the
		// law says to keep stops the whole erasure.
		if _, err := application.Decide(l.state, application.EraseData{Basis: basis}, env); err != nil {
			if e, ok := cmderr.As(err); ok {
				c := *e
				c.Message = cmderr.T("Заявление "+id+": "+e.Message.RU, "Application "+id+": "+e.Message.EN)
				return Erasure{}, &c
			}
			return Erasure{}, err
		}
		todo = append(todo, id)
		scans = append(scans, l.scans()...)
	}
	// The basis goes into every application's record for good: a withdrawn
	// consent it names must be on record (ops QA: any basis on the list was
	// recorded, so the audit could say consent_withdrawn of a person who
	// never withdrew). A withdrawal on one application stands for the
	// person: the key, and so the erasure, is the person's.
	if basis == schema.EraseConsentWithdrawn && !withdrawn {
		return Erasure{}, cmderr.New(cmderr.Conflict, "consent_not_withdrawn", cmderr.T(
			"Заявитель не отзывал согласие ни по одному заявлению: основание consent_withdrawn не подходит. Если он сам просит удалить данные, основание — subject_request.",
			"The applicant has not withdrawn consent on any application, so consent_withdrawn is not the basis. If they ask for their data to be erased, the basis is subject_request."))
	}
	scans = append(scans, uploads...)
	if err := s.opts.Keys.Erase(ctx, applicantID); err != nil {
		return Erasure{}, fmt.Errorf("service: erase the key of %s: %w", applicantID, err)
	}
	out.KeyDestroyed = true
	late, err := s.uploadsOf(ctx, &from, applicantID)
	if err != nil {
		return out, err
	}
	scans = append(scans, late...)
	slices.Sort(scans)
	scans = slices.Compact(scans)
	for _, sum := range scans {
		gone, err := s.deleteBlob(ctx, sum)
		if err != nil {
			return out, err
		}
		if gone {
			out.ScansDeleted++
		}
	}
	// The command id is fixed per application and basis, so a repeat of a
	// half-finished erasure does not record it twice.
	ns := uuid.NewSHA1(uuid.NameSpaceOID, []byte("erase:"+applicantID))
	for _, id := range todo {
		r := req
		r.IfMatch = nil
		r.Meta.CommandID = uuid.NewSHA1(ns, []byte(id)).String()
		res, err := s.run(ctx, r, id, application.EraseData{Basis: basis, ScansDeleted: out.ScansDeleted}, true)
		if err != nil {
			return out, fmt.Errorf("service: record the erasure of %s: %w", id, err)
		}
		out.Applications = append(out.Applications, res)
	}
	out.RecordedNow = len(out.Applications)
	out.Applications = append(out.Applications, done...)
	s.log.InfoContext(ctx, "applicant data erased", "applicant", applicantID, "applications", len(out.Applications), "scans", out.ScansDeleted, "basis", basis)
	return out, nil
}

// scans lists the blob ids of every scan the application's events referred
// to, including ones later replaced.
func (l loaded) scans() []string {
	var out []string
	add := func(refs []schema.DocumentRef) {
		for _, d := range refs {
			if d.SHA256 != "" {
				out = append(out, d.SHA256)
			}
		}
	}
	for _, r := range l.recs {
		e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
		if err != nil {
			continue
		}
		switch e := e.(type) {
		case schema.ApplicationSubmitted:
			add(e.Documents)
		case schema.InfoProvided:
			add(e.NewDocuments)
			add(e.Documents)
		case schema.PolicyRenewed:
			add(e.NewDocuments)
			add(e.Documents)
		}
	}
	return out
}

// DefaultUploadScanTimeout is Options.UploadScanTimeout's default.
const DefaultUploadScanTimeout = 2 * time.Minute

// firstUploadScan is the erasure's read of the whole event store for the
// applicant's uploads, bounded by Options.UploadScanTimeout: it runs
// before anything is destroyed, so a store that does not finish it in time
// (a large one, or an EventStoreDB older than 23.10, which sends no
// caught-up message) refuses the erasure instead of holding it.
func (s *Service) firstUploadScan(ctx context.Context, applicantID string) ([]string, error) {
	limit := s.opts.UploadScanTimeout
	if limit <= 0 {
		limit = DefaultUploadScanTimeout
	}
	scanCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	uploads, err := s.uploadsOf(scanCtx, nil, applicantID)
	if err != nil && errors.Is(scanCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, cmderr.New(cmderr.Unavailable, "upload_scan_timeout", cmderr.T(
			"Поиск загруженных заявителем сканов в журнале событий не уложился в "+limit.String()+"; ничего не удалено. Повторите позже или увеличьте OMS_ERASURE_SCAN_TIMEOUT.",
			"Finding the applicant's uploaded scans in the event log took longer than "+limit.String()+"; nothing was erased. Retry later or raise OMS_ERASURE_SCAN_TIMEOUT."))
	}
	return uploads, err
}

// uploadsOf lists the blob ids of every scan the applicant uploaded (or an
// МФЦ operator uploaded for them), recorded after position after (nil: all
// of them). No read model indexes uploads by owner, so this reads the event
// store for DocumentUploaded events, which the server picks out of the
// log: a read of the whole log per erasure, a rare act, instead of a write
// per upload on every upload's path. Only the two members it needs are
// decoded, so an upload event of a newer schema does not stop erasures.
func (s *Service) uploadsOf(ctx context.Context, after *uint64, applicantID string) ([]string, error) {
	var out []string
	err := s.store.CatchUpTypes(ctx, after, []string{schema.TypeDocumentUploaded}, func(r eventstore.Recorded) error {
		var d struct {
			OwnerID string `json:"ownerId"`
			SHA256  string `json:"sha256"`
		}
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return fmt.Errorf("%s@%d: %w", r.Stream, r.Revision, err)
		}
		if d.OwnerID == applicantID && d.SHA256 != "" {
			out = append(out, d.SHA256)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("service: find the uploads of %s: %w", applicantID, err)
	}
	return out, nil
}

// deleteBlob deletes a scan's blob and reports whether it was there, so
// that a repeated erasure counts only what it removed.
func (s *Service) deleteBlob(ctx context.Context, sum string) (bool, error) {
	rc, _, err := s.opts.Blobs.OpenBlob(ctx, sum)
	switch {
	case errors.Is(err, readstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("service: look up scan %s: %w", sum, err)
	}
	_ = rc.Close()
	if err := s.opts.Blobs.DeleteBlob(ctx, sum); err != nil {
		return false, fmt.Errorf("service: delete scan %s: %w", sum, err)
	}
	return true, nil
}

// accountApplications lists the applications the applicant's account
// reserved that exist, or may still come into existence (a submission
// between its reservation and its first event, within ReservationGrace).
func (s *Service) accountApplications(ctx context.Context, applicantID string) ([]string, error) {
	stream := schema.PersonStream(accountSlot(applicantID).key)
	recs, err := s.store.Load(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("service: load %s: %w", stream, err)
	}
	var out []string
	for i, r := range recs {
		e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
		if err != nil {
			return nil, fmt.Errorf("service: %s@%d: %w", stream, r.Revision, err)
		}
		res, ok := e.(schema.PersonReserved)
		if !ok || res.ApplicationID == "" || slices.Contains(out, res.ApplicationID) {
			continue
		}
		l, err := s.load(ctx, res.ApplicationID)
		if err != nil {
			return nil, err
		}
		// A submission is in flight only while its reservation is the
		// last: one it gave back, or that another overtook, is over.
		inFlight := i == len(recs)-1 && s.now().Sub(res.ReservedAt) < s.opts.ReservationGrace
		if l.exists || inFlight {
			out = append(out, res.ApplicationID)
		}
	}
	return out, nil
}

// erasure finds the application's ApplicantDataErased record.
func (l loaded) erasure() (eventstore.Recorded, bool) {
	for i := len(l.recs) - 1; i >= 0; i-- {
		if l.recs[i].Envelope.Type == schema.TypeApplicantDataErased {
			return l.recs[i], true
		}
	}
	return eventstore.Recorded{}, false
}
