package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/omsonline/oms/events"
)

// A session is a signed token, so signing out used to be only the cookie's
// deletion: a copy of the token (from a shared computer's disk, a proxy's
// log) kept working for the rest of its eight hours, at the pages and at
// the API. Signing out now withdraws the token's id where every node reads
// it (Revocations, the event store in omsd); each node also keeps the ids
// it withdrew or learnt of, so that its own refusal is immediate and the
// store is read once per token per VerifiedTTL, not per request.

// ErrSessionEnded is a session token that was signed out.
var ErrSessionEnded = errors.New("authn: the session was signed out")

// Revocations keeps the session ids withdrawn before their expiry.
type Revocations interface {
	// Revoke withdraws a session of actor until its expiry.
	Revoke(ctx context.Context, actor events.Actor, sessionID string, expires time.Time) error
	// Revoked reports whether a session was withdrawn.
	Revoked(ctx context.Context, sessionID string) (bool, error)
}

// revokedWait bounds one look-up of a session id: the check runs inside a
// request, and a store that does not answer must not hold every page.
const revokedWait = 2 * time.Second

// UseRevocations makes sessions that were signed out fail, on this node
// and, once their cached verification lapses, on every node that reads r.
// A look-up that fails lets the session through and is logged: the
// store's outage would otherwise sign everyone out of the pages that
// still work without it, and this node's own sign-outs still hold.
func (v *Verifier) UseRevocations(r Revocations, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v.revs, v.log = r, log
}

// EndSession signs a session token out. A token that does not verify, or
// has expired, has nothing to end.
func (v *Verifier) EndSession(ctx context.Context, token string) error {
	c, err := v.claims(token)
	if err != nil || c.CSRF == "" {
		return nil
	}
	exp := time.Now().Add(SessionTTL)
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	v.ended.add(c.ID, exp)
	v.seen.drop(token)
	if v.revs == nil {
		return nil
	}
	if err := v.revs.Revoke(ctx, events.Actor{ID: c.Subject, Role: c.Role}, c.ID, exp); err != nil {
		return fmt.Errorf("authn: sign the session out on every node: %w", err)
	}
	return nil
}

// sessionLive checks a session's id against the sign-outs.
func (v *Verifier) sessionLive(id string) error {
	if id == "" {
		// Every session omsd starts has an id; one without cannot be
		// signed out, so it is not taken.
		return ErrSessionEnded
	}
	if v.ended.has(id, time.Now()) {
		return ErrSessionEnded
	}
	if v.revs == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), revokedWait)
	defer cancel()
	revoked, err := v.revs.Revoked(ctx, id)
	if err != nil {
		v.log.Warn("a session's sign-out could not be checked; the session is let through", "err", err)
		return nil
	}
	if revoked {
		// The expiry is not known here; the cache entry goes with the
		// next clean-up after SessionTTL.
		v.ended.add(id, time.Now().Add(SessionTTL))
		return ErrSessionEnded
	}
	return nil
}

// endedSet is the session ids this node knows to be signed out, each until
// its token's expiry.
type endedSet struct {
	mu      sync.Mutex
	m       map[string]time.Time
	cleaned time.Time
}

func (s *endedSet) add(id string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	now := time.Now()
	if now.Sub(s.cleaned) > time.Minute {
		for k, u := range s.m {
			if now.After(u) {
				delete(s.m, k)
			}
		}
		s.cleaned = now
	}
	s.m[id] = until
}

func (s *endedSet) has(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[id]
	return ok && now.Before(u)
}
