package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// reservationNS namespaces the deterministic ids of reservation events.
var reservationNS = uuid.MustParse("5b0f3c1e-8f0a-4a9e-9d53-0c8f6f2d7a41")

// maxENPAttempts bounds the search for a free ЕНП. With 9·10^14 numbers a
// second attempt is already astronomically rare; the bound only stops a
// broken store from looping.
const maxENPAttempts = 16

// reserveENP takes a unique ЕНП for an application by creating its
// "enp-<number>" stream with no_stream. Candidates derive from the
// application id and the reservation event's id too, so concurrent issuers
// of one application converge on one number: the store accepts the repeat
// of an identical append as a success.
func (s *Service) reserveENP(ctx context.Context, meta events.Metadata, applicationID string) (string, error) {
	for attempt := range maxENPAttempts {
		enp := application.ENPCandidate(applicationID, attempt)
		stream := schema.ENPStream(enp)
		ev := schema.ENPReserved{ENP: enp, ApplicationID: applicationID, ReservedAt: s.now().UTC()}
		_, err := s.store.Append(ctx, stream, eventstore.NoStream, meta, eventstore.NewEvent{
			ID: uuid.NewSHA1(reservationNS, []byte("enp|"+applicationID+"|"+enp)), Type: ev.EventType(), Data: ev,
		})
		if err == nil {
			return enp, nil
		}
		if !errors.Is(err, eventstore.ErrConflict) && !errors.Is(err, eventstore.ErrDeleted) {
			return "", fmt.Errorf("service: reserve ЕНП: %w", err)
		}
		owner, err := s.enpOwner(ctx, stream)
		if err != nil {
			return "", err
		}
		if owner == applicationID {
			return enp, nil
		}
		s.log.WarnContext(ctx, "ЕНП candidate taken, trying the next", "application", applicationID, "attempt", attempt)
	}
	return "", fmt.Errorf("service: no free ЕНП after %d attempts", maxENPAttempts)
}

func (s *Service) enpOwner(ctx context.Context, stream string) (string, error) {
	recs, err := s.store.LoadFrom(ctx, stream, 0, 1)
	if err != nil {
		return "", fmt.Errorf("service: load %s: %w", stream, err)
	}
	if len(recs) == 0 {
		return "", nil
	}
	var r schema.ENPReserved
	e, err := schema.Decode(recs[0].Envelope.Type, recs[0].Envelope.SchemaVersion, recs[0].Data)
	if err == nil {
		r, _ = e.(schema.ENPReserved)
	}
	return r.ApplicationID, nil
}

// reservePersonFor reserves the person of a submission, or the new person of
// a corrected identity document, for the application. fresh says the
// application's id was chosen for this very submission (see reservePerson).
//
// A person is both an identity document and an applicant's account: one
// document may not have two open applications (two accounts for one
// person), and one account may not have two (one person with two
// documents, hence two policies and two ЕНП). A submission takes the
// document first; when the account turns out to be taken, it gives the
// document back, so that the document's owner is not kept waiting out the
// grace of an application that will never be written.
func (s *Service) reservePersonFor(ctx context.Context, meta events.Metadata, applicationID string, st application.State, evs []schema.Event, fresh bool) ([]slot, error) {
	for _, e := range evs {
		switch e := e.(type) {
		case schema.ApplicationSubmitted:
			operator := meta.Actor.Role == events.RoleOperator
			slots := []slot{s.identitySlot(application.PersonKey(s.opts.PersonSecret, e.Form), e.ApplicantID, operator)}
			fields := []string{"/identityDocument/number"}
			if key := application.ResidenceKey(s.opts.PersonSecret, e.Form); key != "" {
				slots = append(slots, s.residenceSlot(key, e.ApplicantID, operator))
				fields = append(fields, "/residenceDocument/number")
			}
			acc := accountSlot(e.ApplicantID)
			if operator {
				acc = operatorsAccountSlot(e.ApplicantID)
			}
			slots = append(slots, acc)
			fields = append(fields, "") // the account is no field of the form
			for i, sl := range slots {
				if err := s.reservePerson(ctx, meta, sl, applicationID, fresh); err != nil {
					for _, taken := range slots[:i] {
						s.release(ctx, meta, taken, applicationID)
					}
					return nil, onField(err, fields[i])
				}
			}
			return slots, nil
		case schema.InfoProvided, schema.PolicyRenewed:
			// A corrected passport, citizenship or residence document, or
			// the new ones a renewal brings, may name another person.
			// Their slots need no giving back: an application that does
			// not name the person holds nothing (see holds).
			next := application.Evolve(st, e)
			operator := meta.Actor.Role == events.RoleOperator
			prefix := "" // a renewal gives the documents at the top
			if _, answer := e.(schema.InfoProvided); answer {
				prefix = "/corrections"
			}
			if key := application.PersonKey(s.opts.PersonSecret, next.Form); key != application.PersonKey(s.opts.PersonSecret, st.Form) {
				if err := s.reservePerson(ctx, meta, s.identitySlot(key, st.ApplicantID, operator), applicationID, false); err != nil {
					return nil, onField(err, prefix+"/identityDocument/number")
				}
			}
			if key := application.ResidenceKey(s.opts.PersonSecret, next.Form); key != "" && key != application.ResidenceKey(s.opts.PersonSecret, st.Form) {
				if err := s.reservePerson(ctx, meta, s.residenceSlot(key, st.ApplicantID, operator), applicationID, false); err != nil {
					return nil, onField(err, prefix+"/residenceDocument/number")
				}
			}
		}
	}
	return nil, nil
}

// onField names the form's field a slot's refusal is about (a document
// in use, an open application of the same document), so that a client can
// point at it as it does at a 422's fields: the refusal named none (QA).
// Other errors, and a refusal about no field (ptr ""), pass as they are.
func onField(err error, ptr string) error {
	e, ok := cmderr.As(err)
	if !ok || ptr == "" || len(e.Fields) > 0 {
		return err
	}
	switch e.Code {
	case "document_in_use", "residence_document_in_use", "duplicate_application":
	default:
		return err // contention, a failed write: no field's doing
	}
	c := *e
	c.Fields = []cmderr.FieldError{{Field: ptr, Code: e.Code, Message: e.Message}}
	return &c
}

// slot is one of a person's "one open application" locks: their identity
// document, their residence permit, their account.
type slot struct {
	// key names the reservation stream (schema.PersonStream); it is the
	// reservation's PersonKey.
	key string
	// holds says whether an open application takes the slot.
	holds func(application.State) bool
	// refuse answers a submission that finds the slot held by holder.
	refuse func(holder application.State) error
}

// documentTexts are what a document's slot says when it is held: by
// another account (to the applicant, or to an МФЦ operator about them),
// or by an open application of the caller's own.
type documentTexts struct {
	code                     string
	otherAccount, byOperator cmderr.Text
	own                      cmderr.Text
}

// documentSlot is the slot of a document that names one person (key, its
// keyed hash, which keyOf computes from a form) for a submission or
// correction by applicantID, or by an МФЦ operator for them, to whom a
// refusal speaks of the applicant.
func documentSlot(key, applicantID string, operator bool, keyOf func(schema.Form) string, t documentTexts) slot {
	return slot{
		key:   key,
		holds: func(st application.State) bool { return keyOf(st.Form) == key },
		refuse: func(holder application.State) error {
			if holder.ApplicantID == "" {
				return errContention() // not yet written: whose is unknown
			}
			if holder.ApplicantID != applicantID {
				// Someone else's application: its id and what to do with it
				// are not this caller's business.
				msg := t.otherAccount
				if operator {
					msg = t.byOperator
				}
				return cmderr.New(cmderr.Conflict, t.code, msg)
			}
			return errOpenApplication(holder.ID, t.own)
		},
	}
}

// identitySlot is the slot of an identity document (application.PersonKey).
func (s *Service) identitySlot(key, applicantID string, operator bool) slot {
	return documentSlot(key, applicantID, operator, func(f schema.Form) string { return application.PersonKey(s.opts.PersonSecret, f) }, documentTexts{
		code: "document_in_use",
		otherAccount: cmderr.T(
			"По этому документу, удостоверяющему личность, уже подано заявление из другой учётной записи. Если документ ваш, обратитесь в страховую медицинскую организацию или МФЦ с паспортом.",
			"An application for this identity document has already been submitted from another account. If the document is yours, contact the insurer or an MFC office with your passport."),
		byOperator: cmderr.T(
			"По этому документу, удостоверяющему личность, уже подано заявление из другой учётной записи. Сверьте серию и номер с паспортом заявителя; если они верны, заявителю нужно обратиться в страховую медицинскую организацию с паспортом.",
			"An application for this identity document has already been submitted from another account. Check the series and number against the applicant's passport; if they are right, the applicant needs to contact the insurer with the passport."),
		own: cmderr.T(
			"По этому документу, удостоверяющему личность, уже есть открытое заявление. Продолжите его или отзовите, чтобы подать новое.",
			"There is already an open application for this identity document. Continue it, or withdraw it to submit a new one."),
	})
}

// residenceSlot is the slot of a residence permit
// (application.ResidenceKey).
func (s *Service) residenceSlot(key, applicantID string, operator bool) slot {
	return documentSlot(key, applicantID, operator, func(f schema.Form) string { return application.ResidenceKey(s.opts.PersonSecret, f) }, documentTexts{
		code: "residence_document_in_use",
		otherAccount: cmderr.T(
			"По этому документу о праве проживания (РВП, ВНЖ или удостоверению беженца) уже подано заявление или выдан полис из другой учётной записи: у человека может быть только один полис. Если документ ваш, обратитесь в страховую медицинскую организацию или МФЦ с паспортом и этим документом.",
			"An application or a policy already exists for this residence document (temporary or permanent residence permit, refugee certificate) from another account: a person can hold only one policy. If the document is yours, contact the insurer or an MFC office with your passport and this document."),
		byOperator: cmderr.T(
			"По этому документу о праве проживания уже подано заявление или выдан полис из другой учётной записи. Сверьте серию и номер с документом заявителя; если они верны, у заявителя уже есть полис или заявление в другой учётной записи, и ему нужно обратиться в страховую медицинскую организацию.",
			"An application or a policy already exists for this residence document from another account. Check the series and number against the applicant's document; if they are right, the applicant already has a policy or an application under another account and needs to contact the insurer."),
		own: cmderr.T(
			"По этому документу о праве проживания уже есть открытое заявление или действующий полис. Продолжите его или отзовите заявление, чтобы подать новое.",
			"There is already an open application or a policy for this residence document. Continue it, or withdraw the application to submit a new one."),
	})
}

// accountSlot is the slot of an applicant's account. Its key cannot meet a
// document's, which is a hex digest.
func accountSlot(applicantID string) slot {
	return slot{
		key:   "account-" + applicantID,
		holds: func(st application.State) bool { return st.ApplicantID == applicantID },
		refuse: func(holder application.State) error {
			if holder.ApplicantID == "" {
				return errContention() // not yet written: whose is unknown
			}
			return errOpenApplication(holder.ID, cmderr.T(
				"У вас уже есть открытое заявление или полис ОМС, а у человека может быть только один полис. Продолжите это заявление или отзовите его, чтобы подать новое; новый документ, удостоверяющий личность, вносится в него как исправление.",
				"You already have an open application or a policy, and a person can hold only one. Continue that application, or withdraw it to submit a new one; a new identity document goes into it as a correction."))
		},
	}
}

// operatorsAccountSlot is accountSlot for an МФЦ operator submitting for
// the applicant: its refusal speaks of the applicant, not to them.
func operatorsAccountSlot(applicantID string) slot {
	sl := accountSlot(applicantID)
	sl.refuse = func(holder application.State) error {
		if holder.ApplicantID == "" {
			return errContention()
		}
		return errOpenApplication(holder.ID, cmderr.T(
			"У заявителя уже есть открытое заявление или полис ОМС, а у человека может быть только один полис. Продолжите это заявление в кабинете заявителя или отзовите его, чтобы подать новое; новый документ, удостоверяющий личность, вносится в него как исправление.",
			"The applicant already has an open application or a policy, and a person can hold only one. Continue that application in the applicant's cabinet, or withdraw it to submit a new one; a new identity document goes into it as a correction."))
	}
	return sl
}

func errOpenApplication(existing string, msg cmderr.Text) error {
	e := cmderr.New(cmderr.Conflict, "duplicate_application", msg)
	e.ExistingApplicationID = existing
	return e
}

// reservePerson points the person's reservation stream at the application.
//
// The stream is a lock whose truth lives in the application it points at:
// it holds only while that application is open and still names this person.
// So rejecting or withdrawing an application frees the person with no second
// write (which could be lost between two appends), and the next submission
// takes the lock by appending at the stream's current revision.
//
// fresh says applicationID was chosen for the submission being handled, so
// no reservation event can carry it yet. Most people apply once, so such a
// submission first tries the stream as new, without reading it: what the
// loop below would do after finding no stream, one event store call
// sooner. Only a fresh id makes that safe: the store takes an append
// whose event id matches the stream's first event as a repeat of it and
// reports success, so an application that was once this person's first
// reserver would be told it holds the person even after another took it.
func (s *Service) reservePerson(ctx context.Context, meta events.Metadata, sl slot, applicationID string, fresh bool) error {
	key := sl.key
	stream := schema.PersonStream(key)
	ev := schema.PersonReserved{ApplicationID: applicationID, PersonKey: key, ReservedAt: s.now().UTC()}
	reservation := eventstore.NewEvent{
		ID: uuid.NewSHA1(reservationNS, []byte("person|"+key+"|"+applicationID)), Type: ev.EventType(), Data: ev,
	}
	if fresh {
		_, err := s.store.Append(ctx, stream, eventstore.NoStream, meta, reservation)
		if err == nil {
			return nil
		}
		if !errors.Is(err, eventstore.ErrConflict) {
			return fmt.Errorf("service: reserve person: %w", err)
		}
	}
	for attempt := 1; attempt <= s.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			// As in run: the append that beat this one may not be readable
			// yet, nor the application its reservation points at.
			if err := sleep(ctx, retryPause(attempt-1)); err != nil {
				return fmt.Errorf("service: reserve person: %w", err)
			}
		}
		recs, err := s.store.Load(ctx, stream)
		if err != nil {
			return fmt.Errorf("service: load %s: %w", stream, err)
		}
		exp := eventstore.NoStream
		if n := len(recs); n > 0 {
			last := recs[n-1]
			var held schema.PersonReserved
			if e, err := schema.Decode(last.Envelope.Type, last.Envelope.SchemaVersion, last.Data); err == nil {
				held, _ = e.(schema.PersonReserved)
			}
			if held.ApplicationID == applicationID {
				return nil
			}
			holder, holds, err := s.holds(ctx, held, sl)
			if err != nil {
				return err
			}
			if holds && holder.ApplicantID == "" && attempt < s.opts.MaxAttempts {
				continue // its submission is between its appends: see who it is
			}
			if holds {
				return sl.refuse(holder)
			}
			exp = eventstore.AtRevision(last.Revision)
		}
		_, err = s.store.Append(ctx, stream, exp, meta, reservation)
		if err == nil {
			return nil
		}
		if !errors.Is(err, eventstore.ErrConflict) {
			return fmt.Errorf("service: reserve person: %w", err)
		}
	}
	return errContention()
}

// release frees a slot that applicationID reserved, for a submission
// refused after taking it. It is best effort: if it fails, or another
// reservation came in between, ReservationGrace frees the slot anyway.
func (s *Service) release(ctx context.Context, meta events.Metadata, sl slot, applicationID string) {
	stream := schema.PersonStream(sl.key)
	recs, err := s.store.Load(ctx, stream)
	if err != nil || len(recs) == 0 {
		return
	}
	last := recs[len(recs)-1]
	if e, err := schema.Decode(last.Envelope.Type, last.Envelope.SchemaVersion, last.Data); err != nil {
		return
	} else if r, _ := e.(schema.PersonReserved); r.ApplicationID != applicationID {
		return
	}
	// A reservation of no application holds nothing (see holds).
	ev := schema.PersonReserved{PersonKey: sl.key, ReservedAt: s.now().UTC()}
	if _, err := s.store.Append(ctx, stream, eventstore.AtRevision(last.Revision), meta, eventstore.NewEvent{
		ID: uuid.NewSHA1(reservationNS, []byte("release|"+sl.key+"|"+applicationID)), Type: ev.EventType(), Data: ev,
	}); err != nil {
		s.log.WarnContext(ctx, "could not release a reservation; it expires with its grace", "application", applicationID, "err", err)
	}
}

// holds reports whether a reservation still locks the slot, and the
// application holding it.
func (s *Service) holds(ctx context.Context, r schema.PersonReserved, sl slot) (application.State, bool, error) {
	if r.ApplicationID == "" {
		return application.State{}, false, nil
	}
	l, err := s.load(ctx, r.ApplicationID)
	if err != nil {
		return application.State{}, false, err
	}
	if !l.exists {
		// The submission that reserved is between its two appends, or died
		// there; only the latter may be overtaken. Whose it is is unknown,
		// so the refusal names nothing.
		return application.State{ID: r.ApplicationID}, s.now().Sub(r.ReservedAt) < s.opts.ReservationGrace, nil
	}
	return l.state, l.state.Status.Open() && sl.holds(l.state), nil
}
