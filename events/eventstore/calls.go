package eventstore

import (
	"context"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// The v4 client connects on a call's behalf without the call's context: a
// call waits, uncancellable, on a channel for its connection state
// machine, which spends a whole discovery (attempts, pauses, dial
// timeouts) on one caller at a time while the event store is away. A call
// therefore runs in a goroutine of its own, and the caller stops waiting
// when its context ends; the goroutine keeps the call's hold on the store
// until the client returns, so that Close still never closes the client
// under it.

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

// await runs call, one of the client's calls that opens a stream, and
// returns its result, or ctx's error once ctx ends first. A result that
// comes after that is dropped (drop closes it) and the hold released. A
// context that cannot end is waited on in place.
func await[T any](ctx context.Context, h *hold, call func() (T, error), drop func(T)) (T, error) {
	if ctx.Done() == nil {
		return call()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := call()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		h.handed = true
		go func() {
			r := <-ch
			if r.err == nil && drop != nil {
				drop(r.v)
			}
			h.s.end()
		}()
		var zero T
		return zero, ctx.Err()
	}
}

// DefaultCloseWait is how long Close waits for calls under way before it
// leaves the client to close when they end: during an outage they end
// only when the event store is back, and a node shutting down must not
// wait for that.
const DefaultCloseWait = 5 * time.Second

func closeStream(rs *esdb.ReadStream) { rs.Close() }

// subscribe starts a subscription to $all. Only the call that starts it
// counts as under way (see Store.calls): the context ends the
// subscription.
func (s *Store) subscribe(ctx context.Context, o esdb.SubscribeToAllOptions) (*esdb.Subscription, error) {
	h, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer h.release()
	return await(ctx, h, func() (*esdb.Subscription, error) { return s.client.SubscribeToAll(ctx, o) },
		func(sub *esdb.Subscription) { _ = sub.Close() })
}
