package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The v4 client talks to its connection state machine over an unbuffered
// channel, without the call's context: while the event store is away, the
// machine spends whole discoveries (attempts, pauses, dial timeouts) on
// one caller at a time, and every other call waits on that channel,
// uncancellable, to connect or to report a broken stream. A call therefore
// runs in a goroutine of its own, from its first message to the client to
// its stream's last, and the caller stops waiting when its context ends or
// after Options.CallWait. The goroutine keeps the call's hold on the store
// until the client returns, so that Close still never closes the client
// under it; while too many such calls are left waiting, new ones are
// refused at once rather than piling up goroutines for the outage.

// ErrUnavailable is a call the event store did not answer in time, or one
// refused because earlier calls still wait for it.
var ErrUnavailable = errors.New("eventstore: the event store does not answer")

// Defaults of the call bounds.
const (
	// DefaultCloseWait is how long Close waits for calls under way before
	// it leaves the client to close when they end: during an outage they
	// end only when the event store is back, and a node shutting down
	// must not wait for that.
	DefaultCloseWait = 5 * time.Second
	// DefaultCallWait bounds a call whose context has no deadline (an
	// HTTP request's has none).
	DefaultCallWait = 30 * time.Second
	// DefaultSuspectWait bounds such a call while the store is suspect
	// (see Store.healthy).
	DefaultSuspectWait = 5 * time.Second
	// maxLeft is how many calls may be left waiting for an absent event
	// store before new ones are refused at once.
	maxLeft = 32
)

// hold is one admitted call (see Store.calls). Its release is deferred by
// the caller, and skipped once the hold has passed to the goroutine of a
// call the caller stopped waiting for.
type hold struct {
	s      *Store
	handed bool
}

// hold admits a client call unless the store is closing.
func (s *Store) hold() (*hold, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	return &hold{s: s}, nil
}

func (h *hold) release() {
	if !h.handed {
		h.s.end()
	}
}

// Where a call's result goes: to the caller waiting for it, or, once the
// caller has gone, nowhere (the goroutine then releases the hold).
const (
	callWaiting int32 = iota
	callDelivered
	callLeft
)

// await runs call, a whole exchange with the client (open a stream, read
// it, close it), and returns its result; or ctx's error once ctx ends
// first, or ErrUnavailable once the store's call wait passes (for a ctx
// without a deadline). The call itself runs on to its end, with the hold,
// and a result nobody waits for any more goes to drop (if not nil).
func await[T any](ctx context.Context, h *hold, call func() (T, error), drop func(T)) (T, error) {
	var zero T
	if ctx.Done() == nil && h.s.healthy.Load() {
		// A context that cannot end, on a store that answers: in place.
		// A goroutine of its own cost an append 11% (its stack grows
		// anew for the client's deep calls). A call in place when the
		// store goes away waits until it is back; the client's complaint
		// or another call's failure marks the store suspect at once, and
		// the calls after wait from goroutines, bounded.
		v, err := call()
		h.s.observe(err)
		return v, unanswered(err)
	}
	if n := h.s.left.Load(); n >= maxLeft {
		return zero, fmt.Errorf("%w: %d earlier calls still wait for it", ErrUnavailable, n)
	}
	type result struct {
		v   T
		err error
	}
	var state atomic.Int32
	ch := make(chan result, 1)
	go func() {
		v, err := call()
		if state.CompareAndSwap(callWaiting, callDelivered) {
			ch <- result{v, err}
			return
		}
		if err == nil && drop != nil {
			drop(v)
		}
		h.s.left.Add(-1)
		h.s.end()
	}()
	var bound <-chan time.Time
	wait := h.s.callWait
	if !h.s.healthy.Load() {
		// Known to be away: a client told to retry in a few seconds
		// should not first wait half a minute to hear it.
		wait = min(wait, h.s.suspectWait)
	}
	if _, ok := ctx.Deadline(); !ok {
		t := time.NewTimer(wait)
		defer t.Stop()
		bound = t.C
	}
	select {
	case r := <-ch:
		h.s.observe(r.err)
		return r.v, unanswered(r.err)
	case <-ctx.Done():
		if h.leave(&state) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The store did not answer within the caller's time: as
				// unavailable as when the client gives up first, which
				// of the two comes first being a race.
				h.s.healthy.Store(false)
				return zero, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			}
			return zero, ctx.Err()
		}
	case <-bound:
		if h.leave(&state) {
			h.s.healthy.Store(false)
			return zero, fmt.Errorf("%w within %v", ErrUnavailable, wait)
		}
	}
	// The call delivered as the wait ended: its result is the answer.
	r := <-ch
	h.s.observe(r.err)
	return r.v, unanswered(r.err)
}

// unanswered marks an error of reaching the event store as ErrUnavailable,
// keeping the client's error in the chain. A refused connection comes back
// from the client at once, not after a wait, and went up unmarked: the API
// answered it with 500 instead of 503 and Retry-After (ops QA).
func unanswered(err error) error {
	if !connectionError(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// observe notes whether the event store answered: an error of the
// connection marks it suspect until a call ends without one.
func (s *Store) observe(err error) {
	s.healthy.Store(!connectionError(err))
}

// connectionError reports an error of reaching the event store, as opposed
// to its answer (a conflict, a missing stream).
func connectionError(err error) bool {
	if err == nil {
		return false
	}
	var e *esdb.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeDeadlineExceeded:
			return true
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	// A stream cut off by a store that went away comes back from the
	// client as a bare EOF ("could not send append request … EOF"): the
	// ends of reads are taken before this, so here it is the connection
	// (CI: answered 500 once in a few runs). A refusal the server sends
	// before it has read the whole append (a message over its size limit)
	// reaches the client as the same bare EOF, and would read as an
	// outage; no event this service writes comes near that limit.
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// leave hands the hold to the call's goroutine, unless the call has just
// delivered its result.
func (h *hold) leave(state *atomic.Int32) bool {
	h.s.left.Add(1)
	if !state.CompareAndSwap(callWaiting, callLeft) {
		h.s.left.Add(-1)
		return false
	}
	h.handed = true
	return true
}

// subscribe starts a subscription to $all. Only the call that starts it
// counts as under way (see Store.calls): the context ends the
// subscription. One that starts after its caller left is closed.
func (s *Store) subscribe(ctx context.Context, o esdb.SubscribeToAllOptions) (*esdb.Subscription, error) {
	h, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer h.release()
	return await(ctx, h, func() (*esdb.Subscription, error) { return s.client.SubscribeToAll(ctx, o) },
		func(sub *esdb.Subscription) { _ = sub.Close() })
}
