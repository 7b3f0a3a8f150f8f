package visit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// Options configure a Service.
type Options struct {
	Store *eventstore.Store
	// Secret keys the codes' digests; omsd derives it from the master
	// key. Without it a digest read from the store would give the code
	// away in a million tries.
	Secret []byte
	// Now is the business clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// OpenCacheTTL is how long a node takes an open visit for still open
	// without reading the stream again: a visit the applicant closed on
	// another node ends here at most this much later. Zero means
	// DefaultOpenCacheTTL.
	OpenCacheTTL time.Duration
}

// DefaultOpenCacheTTL is Options.OpenCacheTTL's default.
const DefaultOpenCacheTTL = 10 * time.Second

// maxAttempts bounds load-decide-append rounds lost to concurrent writes
// of the same stream (two operators typing codes at once).
const maxAttempts = 5

// Service runs the visit decisions against the event store.
type Service struct {
	opts Options
	mu   sync.Mutex
	// open remembers visits found open, by operator and applicant, with
	// when to look again.
	open map[[2]string]time.Time
}

// NewService builds a Service.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || len(o.Secret) == 0 {
		return nil, errors.New("visit: Store and Secret are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OpenCacheTTL <= 0 {
		o.OpenCacheTTL = DefaultOpenCacheTTL
	}
	return &Service{opts: o, open: map[[2]string]time.Time{}}, nil
}

// Code is a code given to an applicant.
type Code struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
	Position  uint64    `json:"position"`
}

// Visit is an operator's open visit.
type Visit struct {
	ApplicantID string    `json:"applicantId"`
	Until       time.Time `json:"until"`
	Position    uint64    `json:"position"`
}

// load folds an applicant's visit stream.
func (s *Service) load(ctx context.Context, applicant string) (State, error) {
	recs, err := s.opts.Store.Load(ctx, schema.VisitStream(applicant))
	if err != nil {
		return State{}, fmt.Errorf("visit: read the visits of an applicant: %w", err)
	}
	var st State
	for _, r := range recs {
		ev, err := r.Payload()
		if err != nil {
			return State{}, fmt.Errorf("visit: decode %s at %d: %w", r.Envelope.Type, r.Revision, err)
		}
		st = Evolve(st, ev)
		st.Revision, st.Position, st.Exists = r.Revision, r.Position, true
	}
	return st, nil
}

func expected(st State) eventstore.Expected {
	if !st.Exists {
		return eventstore.NoStream
	}
	return eventstore.AtRevision(st.Revision)
}

// append writes one decided event at the revision it was decided on.
func (s *Service) append(ctx context.Context, md events.Metadata, applicant string, st State, ev schema.Event) (uint64, error) {
	typ, v, data, err := schema.Encode(ev)
	if err != nil {
		return 0, err
	}
	res, err := s.opts.Store.Append(ctx, schema.VisitStream(applicant), expected(st), md,
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	if err != nil {
		return 0, err
	}
	return res.Position, nil
}

// run loads, decides and appends, again after a concurrent write.
func (s *Service) run(ctx context.Context, md events.Metadata, applicant string, decide func(State, time.Time) (schema.Event, error)) (uint64, error) {
	for attempt := range maxAttempts {
		if attempt > 0 {
			// Apart, or the same writers meet again at once.
			select {
			case <-time.After(time.Duration(1+mrand.IntN(4*attempt)) * time.Millisecond):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		st, err := s.load(ctx, applicant)
		if err != nil {
			return 0, err
		}
		now := s.opts.Now()
		md.At = now
		ev, derr := decide(st, now)
		if ev == nil {
			return 0, derr
		}
		pos, err := s.append(ctx, md, applicant, st, ev)
		if errors.Is(err, eventstore.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("visit: record %s: %w", ev.EventType(), err)
		}
		return pos, derr
	}
	return 0, cmderr.New(cmderr.Unavailable, "contention", cmderr.T(
		"Запись о приёме в МФЦ не удалась из-за одновременных изменений; повторите.",
		"The MFC visit could not be recorded because of concurrent changes; try again."))
}

// IssueCode gives the applicant md names (as actor) a new code.
func (s *Service) IssueCode(ctx context.Context, md events.Metadata) (Code, error) {
	applicant := md.Actor.ID
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return Code{}, fmt.Errorf("visit: draw a code: %w", err)
	}
	code := fmt.Sprintf("%0*d", Length, n.Int64())
	var issued schema.VisitCodeIssued
	pos, err := s.run(ctx, md, applicant, func(_ State, now time.Time) (schema.Event, error) {
		issued = DecideIssue(now, "")
		issued.CodeDigest = s.digest(applicant, code, issued.ExpiresAt)
		return issued, nil
	})
	if err != nil {
		return Code{}, err
	}
	return Code{Code: code, ExpiresAt: issued.ExpiresAt, Position: pos}, nil
}

// digest keys a code to its applicant and expiry, so that a digest says
// nothing of the code without the secret, and is no other code's.
func (s *Service) digest(applicant, code string, expires time.Time) string {
	m := hmac.New(sha256.New, s.opts.Secret)
	m.Write([]byte("oms-visit-code\x00" + applicant + "\x00" + code + "\x00" + strconv.FormatInt(expires.UnixNano(), 10)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Redeem opens a visit of the operator md names with applicant, if code
// is the applicant's live code.
func (s *Service) Redeem(ctx context.Context, md events.Metadata, applicant, code string) (Visit, error) {
	operator := md.Actor.ID
	md.OnBehalfOf = applicant
	var opened schema.VisitOpened
	matches := func(c LiveCode) bool {
		return hmac.Equal([]byte(s.digest(applicant, code, c.Expiry)), []byte(c.Digest))
	}
	var already Visit
	pos, err := s.run(ctx, md, applicant, func(st State, now time.Time) (schema.Event, error) {
		if v, ok := st.Visits[operator]; ok && now.Before(v.Until) && v.Code.Digest != "" && matches(v.Code) {
			// The same form sent twice (a double click, Back and send
			// again): the code this operator's open visit was opened
			// with. Nothing to record, nothing to refuse; the position
			// is the stream's, at or after the opening, so that a read
			// with ?after= sees the visit (it was 0: no wait at all).
			already = Visit{ApplicantID: applicant, Until: v.Until, Position: st.Position}
			return nil, nil
		}
		ev, err := DecideRedeem(st, now, operator, matches)
		if o, ok := ev.(schema.VisitOpened); ok {
			opened = o
		}
		return ev, err
	})
	if err != nil {
		return Visit{}, err
	}
	if !already.Until.IsZero() {
		return already, nil
	}
	s.remember(operator, applicant, opened.Until)
	return Visit{ApplicantID: applicant, Until: opened.Until, Position: pos}, nil
}

// Close ends visits with applicant: the operator's own when md names an
// operator, every one when it names the applicant. It returns the
// closing's position in the log, for reads that must see it, or 0 when
// there was nothing to close.
func (s *Service) Close(ctx context.Context, md events.Metadata, applicant string) (uint64, error) {
	operator := ""
	if md.Actor.Role == events.RoleOperator {
		operator = md.Actor.ID
		md.OnBehalfOf = applicant
	}
	s.forget(operator, applicant)
	pos, err := s.run(ctx, md, applicant, func(st State, now time.Time) (schema.Event, error) {
		ev, ok := DecideClose(st, now, operator)
		if !ok {
			return nil, nil
		}
		return ev, nil
	})
	// Again after the write: a look-up on this node between the two may
	// have taken the visit for open.
	s.forget(operator, applicant)
	return pos, err
}

// Open reports whether operator may act for applicant now. It is asked on
// every request an operator makes for an applicant.
func (s *Service) Open(ctx context.Context, operator, applicant string) (bool, error) {
	now := s.opts.Now()
	key := [2]string{operator, applicant}
	s.mu.Lock()
	until, ok := s.open[key]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	st, err := s.load(ctx, applicant)
	if err != nil {
		return false, err
	}
	end, open := st.Open(now, operator)
	if open {
		s.remember(operator, applicant, end)
	} else {
		s.forget(operator, applicant)
	}
	return open, nil
}

// remember keeps an open visit for OpenCacheTTL, never past its end.
func (s *Service) remember(operator, applicant string, until time.Time) {
	look := s.opts.Now().Add(s.opts.OpenCacheTTL)
	if until.Before(look) {
		look = until
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.open) > 10_000 {
		// An operator's day is some dozens of visits; a map this large is
		// stale entries, and starting afresh costs one read each.
		clear(s.open)
	}
	s.open[[2]string{operator, applicant}] = look
}

// forget drops what this node remembers of operator's visit with
// applicant, or of every operator's when operator is empty.
func (s *Service) forget(operator, applicant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.open {
		if k[1] == applicant && (operator == "" || k[0] == operator) {
			delete(s.open, k)
		}
	}
}
