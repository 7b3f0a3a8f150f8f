// Package service runs the application commands against the event store:
// load the application's stream, fold it, decide, append with the expected
// revision. Around that one loop it keeps the rules that need the store's
// optimistic concurrency rather than the domain's: retries after a
// conflicting write, If-Match, exactly-once Idempotency-Key, one open
// application per person, and unique ЕНП numbers. All of them live in event
// streams, so they hold across omsd processes and restarts.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
)

// Documents finds uploads by id; *document.Service implements it.
type Documents interface {
	Lookup(ctx context.Context, id string) (schema.DocumentUploaded, bool, error)
	// ContentSHA256 is the digest of an upload's bytes as uploaded.
	ContentSHA256(ctx context.Context, doc schema.DocumentUploaded) (string, error)
}

// Defaults of Options.
const (
	DefaultMaxAttempts      = 5
	DefaultIdempotencyWait  = 10 * time.Second
	DefaultIdempotencyLease = 30 * time.Second
	DefaultReservationGrace = time.Minute
)

// Options configure a Service.
type Options struct {
	Store     *eventstore.Store
	Documents Documents
	Config    application.Config
	// Now is the business clock (decisions, payload timestamps); nil means
	// time.Now. Timeouts always use the wall clock.
	Now    func() time.Time
	Logger *slog.Logger
	// MaxAttempts bounds load-decide-append rounds after conflicting writes.
	MaxAttempts int
	// IdempotencyWait is how long a repeat waits for the first request with
	// the same key to finish before answering 409.
	IdempotencyWait time.Duration
	// IdempotencyLease is how old an unfinished claim of a key must be
	// before another request takes it over (the first one's process died).
	IdempotencyLease time.Duration
	// ReservationGrace is how long a person reservation pointing at an
	// application that has no events yet still counts: the submission that
	// made it is between its two writes.
	ReservationGrace time.Duration
	// PersonSecret keys the person reservation streams' names (see
	// application.PersonKey); omsd derives it from the master key.
	PersonSecret []byte
	// Keys and Blobs are what EraseApplicant destroys: the applicant's
	// data key and their scans.
	Keys  Eraser
	Blobs BlobDeleter
	// UploadScanTimeout bounds EraseApplicant's read of the whole event
	// store for the applicant's uploads; zero means
	// DefaultUploadScanTimeout.
	UploadScanTimeout time.Duration
	// NewApplicationID chooses a new application's id; nil means a
	// UUIDv7. Tests set it to make two submissions collide.
	NewApplicationID func() (uuid.UUID, error)
}

// Service executes commands.
type Service struct {
	store *eventstore.Store
	docs  Documents
	cfg   application.Config
	now   func() time.Time
	log   *slog.Logger
	opts  Options
	// erasing serialises erasures of one applicant on this node: two run
	// at once both found the scans present and the erasure unrecorded,
	// and each answered as if it had done the work.
	erasing keyedLocks
	// subjects keeps an applicant's commands (shared) and the decisive part
	// of their erasure (exclusive) apart on this node.
	subjects keyedLocks
}

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Documents == nil {
		return nil, errors.New("service: Store and Documents are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.IdempotencyWait <= 0 {
		opts.IdempotencyWait = DefaultIdempotencyWait
	}
	if opts.IdempotencyLease <= 0 {
		opts.IdempotencyLease = DefaultIdempotencyLease
	}
	if opts.ReservationGrace <= 0 {
		opts.ReservationGrace = DefaultReservationGrace
	}
	if opts.NewApplicationID == nil {
		opts.NewApplicationID = uuid.NewV7
	}
	return &Service{store: opts.Store, docs: opts.Documents, cfg: opts.Config.WithDefaults(), now: opts.Now, log: opts.Logger, opts: opts}, nil
}

// Config is the domain configuration in effect.
func (s *Service) Config() application.Config { return s.cfg }

// Request is what a command carries besides its own fields.
type Request struct {
	// Meta is the caller and the request's correlation; it becomes the
	// envelope of the events.
	Meta events.Metadata
	// IfMatch, if set, is the revision the client last saw; a command
	// against any other revision is refused with the current one.
	IfMatch *uint64
	// IdempotencyKey, if set, makes the command exactly-once for this
	// caller: a repeat returns the first result and writes nothing.
	IdempotencyKey string
}

// Result is what every command returns.
type Result = schema.CommandResult

// Submit opens a new application; its id is chosen here.
func (s *Service) Submit(ctx context.Context, req Request, form schema.Form) (Result, error) {
	return s.Handle(ctx, req, "", application.SubmitApplication{Form: form})
}

// Handle executes a command on an application (for SubmitApplication the
// id is ignored and a new one is chosen). Refusals are *cmderr.Error.
func (s *Service) Handle(ctx context.Context, req Request, applicationID string, cmd application.Command) (Result, error) {
	if req.Meta.Actor.ID == "" || req.Meta.Actor.Role == "" {
		return Result{}, cmderr.New(cmderr.Unauthenticated, "unauthenticated", cmderr.T("Войдите в систему.", "Sign in first."))
	}
	if _, isSubmit := cmd.(application.SubmitApplication); isSubmit {
		id, err := s.opts.NewApplicationID()
		if err != nil {
			return Result{}, fmt.Errorf("service: new application id: %w", err)
		}
		applicationID = id.String()
		req.IfMatch = nil // a new application has no revision to match
	} else {
		id, err := uuid.Parse(applicationID)
		if err != nil {
			return Result{}, cmderr.New(cmderr.NotFound, "application_not_found", cmderr.T("Заявление не найдено.", "No such application."))
		}
		applicationID = id.String()
	}
	if req.IdempotencyKey != "" {
		return s.idempotent(ctx, req, applicationID, cmd)
	}
	if req.Meta.CommandID == "" {
		req.Meta.CommandID = uuid.NewString()
	}
	return s.run(ctx, req, applicationID, cmd, false)
}

// loaded is an application stream folded.
type loaded struct {
	state    application.State
	recs     []eventstore.Recorded
	revision uint64
	exists   bool
}

func (s *Service) load(ctx context.Context, applicationID string) (loaded, error) {
	recs, err := s.store.Load(ctx, schema.ApplicationStream(applicationID))
	if err != nil {
		return loaded{}, fmt.Errorf("service: load application %s: %w", applicationID, err)
	}
	l := loaded{recs: recs}
	for _, r := range recs {
		e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
		if errors.Is(err, schema.ErrUnknownType) {
			continue // written by a newer service; the fold ignores it
		}
		if err != nil {
			return loaded{}, fmt.Errorf("service: application %s@%d: %w", applicationID, r.Revision, err)
		}
		l.state = application.Evolve(l.state, e)
		if _, ok := e.(schema.ApplicationSubmitted); ok {
			l.state.SubmittedBy = r.Envelope.Actor.ID
		}
	}
	if n := len(recs); n > 0 {
		l.revision, l.exists = recs[n-1].Revision, true
	}
	return l, nil
}

// applied finds the events a command with this id already wrote: a takeover
// of an idempotency key, or a retry after an append whose outcome was lost.
func (l loaded) applied(applicationID, commandID string) (Result, bool) {
	for i := len(l.recs) - 1; i >= 0; i-- {
		if r := l.recs[i]; r.Envelope.CommandID == commandID {
			return Result{ApplicationID: applicationID, Revision: r.Revision, Position: r.Position}, true
		}
	}
	return Result{}, false
}

func staleRevision(current uint64, exists bool) error {
	e := cmderr.New(cmderr.Conflict, "stale_revision", cmderr.T(
		"Заявление изменилось с тех пор, как вы его открыли. Обновите данные и повторите.",
		"The application has changed since you loaded it. Reload it and try again."))
	if exists {
		e.CurrentRevision = &current
	}
	return e
}

func errContention() error {
	return cmderr.New(cmderr.Conflict, "contention", cmderr.T(
		"Заявление сейчас изменяют слишком часто. Повторите попытку.",
		"The application is being changed too often right now. Try again."))
}

// run is the load-decide-append loop. With recover set (an idempotent
// command), events already written under the command id count as done.
func (s *Service) run(ctx context.Context, req Request, applicationID string, cmd application.Command, recover bool) (Result, error) {
	caller := application.CallerFrom(req.Meta)
	docs, err := s.lookupDocuments(ctx, cmd)
	if err != nil {
		return Result{}, err
	}
	digests, err := s.contentDigests(ctx, cmd, docs, caller.Subject())
	if err != nil {
		return Result{}, err
	}
	if sub, ok := cmd.(application.SubmitApplication); ok {
		sub.ApplicationID = applicationID
		cmd = sub
	}
	enp := ""
	// A submission that is not a recovery has an id Handle has just
	// chosen, so its stream cannot exist yet: the first round decides on
	// the empty state without reading it, one event store call fewer. Were
	// the id ever taken after all, the append (no_stream) is refused and
	// the next round reads the stream and refuses the submission; the
	// person reservation it left points at an application of another
	// person, which holds no one (see holds).
	_, fresh := cmd.(application.SubmitApplication)
	fresh = fresh && !recover
	for attempt := 1; attempt <= s.opts.MaxAttempts; attempt++ {
		var l loaded
		if !fresh || attempt > 1 {
			if l, err = s.load(ctx, applicationID); err != nil {
				return Result{}, err
			}
		}
		if recover {
			if res, done := l.applied(applicationID, req.Meta.CommandID); done {
				return res, nil
			}
		}
		if _, submit := cmd.(application.SubmitApplication); !submit {
			// Before If-Match, whose refusal tells the revision.
			if err := application.CheckVisible(l.state, caller); err != nil {
				return Result{}, err
			}
		}
		if req.IfMatch != nil && l.exists && l.revision != *req.IfMatch {
			return Result{}, staleRevision(l.revision, true)
		}
		env := application.Env{Now: s.now(), Caller: caller, Config: s.cfg, Documents: docs, ContentSHA256: digests}
		c := cmd
		if application.NeedsENP(c, s.cfg) {
			if enp == "" {
				// Decide with a candidate first, so that a refused command
				// reserves nothing.
				if _, err := application.Decide(l.state, application.WithENP(c, application.ENPCandidate(applicationID, 0)), env); err != nil {
					return Result{}, withRevision(err, l)
				}
				if enp, err = s.reserveENP(ctx, req.Meta, applicationID); err != nil {
					return Result{}, err
				}
			}
			c = application.WithENP(c, enp)
		}
		evs, err := application.Decide(l.state, c, env)
		if err != nil {
			return Result{}, withRevision(err, l)
		}
		news, subject, err := newEvents(evs, l.state.ApplicantID, req.Meta.CommandID, recover)
		if err != nil {
			return Result{}, err
		}
		res, taken, err, reserveErr := s.reserveAndAppend(ctx, req, applicationID, l, evs, news, subject, fresh, env.Now)
		if reserveErr != nil {
			return Result{}, reserveErr
		}
		var ce *eventstore.ConflictError
		if errors.As(err, &ce) {
			if req.IfMatch != nil {
				return Result{}, staleRevision(ce.Current, ce.Exists)
			}
			s.log.InfoContext(ctx, "command retried after a concurrent write", "command", cmd.Name(), "application", applicationID, "attempt", attempt)
			if attempt < s.opts.MaxAttempts {
				if err := sleep(ctx, retryPause(attempt)); err != nil {
					return Result{}, fmt.Errorf("service: %s on %s: %w", cmd.Name(), applicationID, err)
				}
			}
			continue
		}
		if errors.Is(err, piicrypt.ErrErased) {
			// Refused before anything was sent (the events could not be
			// sealed), so the application will never exist: its person
			// and account are given back at once rather than held for
			// ReservationGrace, where they blocked a repeat erasure and
			// the person's next account. After any other error the
			// append may have landed, and a freed slot could let a second
			// application in, so those wait out the grace.
			for _, sl := range taken {
				s.release(ctx, req.Meta, sl, applicationID)
			}
			return Result{}, application.ApplicantErased()
		}
		if err != nil {
			return Result{}, fmt.Errorf("service: %s on %s: %w", cmd.Name(), applicationID, err)
		}
		s.log.InfoContext(ctx, "command executed", "command", cmd.Name(), "application", applicationID,
			"revision", res.Revision, "actor", req.Meta.Actor.ID, "role", req.Meta.Actor.Role)
		return Result{ApplicationID: applicationID, Revision: res.Revision, Position: res.Position}, nil
	}
	return Result{}, errContention()
}

// reserveAndAppend takes the person and account a command's events need
// and appends them at the revision they were decided on. It answers the
// append's error apart from any before it: only the former may be a
// conflict to decide again on. Unless the
// command is the erasure's own record, whose erasure holds the lock
// already, it runs under the subject's shared lock: an erasure of the
// subject in progress on this node finishes first, and the append then
// meets either the erasure's record (a conflict, decided again) or the
// destroyed key (refused).
func (s *Service) reserveAndAppend(ctx context.Context, req Request, applicationID string, l loaded, evs []schema.Event, news []eventstore.NewEvent, subject string, fresh bool, at time.Time) (res eventstore.AppendResult, taken []slot, appendErr, err error) {
	if !slices.ContainsFunc(evs, isErasure) && subject != "" {
		unlock, err := s.subjects.share(ctx, subject)
		if err != nil {
			return res, nil, nil, fmt.Errorf("service: wait for the erasure of %s: %w", subject, err)
		}
		defer unlock()
	}
	if taken, err = s.reservePersonFor(ctx, req.Meta, applicationID, l.state, evs, fresh); err != nil {
		return res, nil, nil, err
	}
	exp := eventstore.NoStream
	if l.exists {
		exp = eventstore.AtRevision(l.revision)
	}
	meta := req.Meta
	meta.At = at
	res, appendErr = s.store.Append(ctx, schema.ApplicationStream(applicationID), exp, meta, news...)
	return res, taken, appendErr, nil
}

func isErasure(e schema.Event) bool {
	_, ok := e.(schema.ApplicantDataErased)
	return ok
}

// Pauses between load-decide-append rounds after a conflicting write.
const (
	retryPauseBase = 5 * time.Millisecond
	retryPauseMax  = 100 * time.Millisecond
)

// retryPause is how long to wait after the attempt-th round lost to a
// concurrent write: base·2^(attempt-1), capped, with the upper half
// jittered. The store refuses a loser's append as soon as the winner's is
// queued, but readers see the winner's event only once it is durable; a
// loser that re-read at once spent its attempts inside one fsync and
// answered "contention" where the domain had an answer (already_claimed).
// Growing pauses outlast a slow disk, and the jitter keeps the losers of
// one race from colliding again in lockstep.
func retryPause(attempt int) time.Duration {
	d := retryPauseMax
	if attempt < 6 { // 5ms·2^5 is past the cap already
		d = min(retryPauseBase<<(attempt-1), retryPauseMax)
	}
	return d/2 + rand.N(d/2+1)
}

// withRevision adds the current revision to a domain conflict, so that a
// client can reload exactly what it missed.
func withRevision(err error, l loaded) error {
	if e, ok := cmderr.As(err); ok && e.Kind == cmderr.Conflict && l.exists && e.CurrentRevision == nil {
		c := *e
		rev := l.revision
		c.CurrentRevision = &rev
		return &c
	}
	return err
}

// newEvents encodes domain events. Under an idempotency key the event ids
// derive from the command id, so a duplicate append of the same decision
// (two takeovers racing) is absorbed by the store's own idempotency.
//
// The applicant is the data subject whose key seals the events' personal
// data; a submission names its applicant itself. The subject returned is
// the last event's.
func newEvents(evs []schema.Event, applicantID, commandID string, deterministic bool) ([]eventstore.NewEvent, string, error) {
	out := make([]eventstore.NewEvent, len(evs))
	base, _ := uuid.Parse(commandID)
	for i, e := range evs {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			return nil, "", err
		}
		if sub, ok := e.(schema.ApplicationSubmitted); ok {
			applicantID = sub.ApplicantID
		}
		out[i] = eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicantID}
		if deterministic && base != uuid.Nil {
			out[i].ID = uuid.NewSHA1(base, []byte(strconv.Itoa(i)))
		}
	}
	return out, applicantID, nil
}

// documentRefs are the scans a command names, as the domain reads them:
// an id sent with a space or in upper case names the same scan.
func documentRefs(cmd application.Command) []schema.DocumentRef {
	switch c := application.Canonical(cmd).(type) {
	case application.SubmitApplication:
		return c.Form.Documents
	case application.ProvideInfo:
		return c.Documents
	case application.Renew:
		return c.Documents
	}
	return nil
}

// contentDigests hashes the bytes of the caller's own uploads whose
// reference sends a sha256 other than the blob's id (a client echoing the
// upload's answer), so that the domain can hold it to the file. Nothing
// else pays for it: the service's own clients send kind and id alone.
func (s *Service) contentDigests(ctx context.Context, cmd application.Command, docs map[string]schema.DocumentUploaded, subject string) (map[string]string, error) {
	var out map[string]string
	for _, ref := range documentRefs(cmd) {
		up, ok := docs[ref.ID]
		if !ok || up.OwnerID != subject || !application.NeedsContentSHA256(ref, up) {
			continue
		}
		if _, done := out[ref.ID]; done {
			continue
		}
		sum, err := s.docs.ContentSHA256(ctx, up)
		if err != nil {
			return nil, fmt.Errorf("service: digest of document %s: %w", ref.ID, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[ref.ID] = sum
	}
	return out, nil
}

// lookupDocuments finds the uploads a command references.
func (s *Service) lookupDocuments(ctx context.Context, cmd application.Command) (map[string]schema.DocumentUploaded, error) {
	refs := documentRefs(cmd)
	const maxLookups = 11 // the domain refuses more than 10 anyway
	var ids []string
	for i, r := range refs {
		if i == maxLookups {
			break
		}
		id, err := uuid.Parse(r.ID)
		if err != nil {
			continue // the domain reports it as unknown
		}
		if !slices.Contains(ids, id.String()) {
			ids = append(ids, id.String())
		}
	}
	// The scans are read at once: one after another they were three
	// event store round trips on every submission's path.
	docs := make([]schema.DocumentUploaded, len(ids))
	found := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	for i, id := range ids {
		g.Go(func() error {
			doc, ok, err := s.docs.Lookup(gctx, id)
			if err != nil {
				return fmt.Errorf("service: look up document: %w", err)
			}
			docs[i], found[i] = doc, ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]schema.DocumentUploaded, len(ids))
	for i, id := range ids {
		if found[i] {
			out[id] = docs[i]
		}
	}
	return out, nil
}
