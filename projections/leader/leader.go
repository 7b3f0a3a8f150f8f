// Package leader runs the projections only while this process holds the
// projection lease, and answers questions about them (positions, lag,
// read-your-writes waits) on every node: from the running projections on
// the leaseholder, from the stored checkpoints elsewhere.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/lease"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// ErrNotLeader is returned for operations only the leaseholder can do.
var ErrNotLeader = errors.New("leader: this node does not hold the projection lease")

// Options configure a Leader.
type Options struct {
	Lease *lease.Lease
	// Build makes a fresh runner for one term of the lease, fenced by
	// term (runner.Options' Fence, FenceToken and Fenced).
	Build  func(ctx context.Context, term Term) (*runner.Runner, error)
	Names  []string
	Store  readstore.Store
	Events *eventstore.Store
	Logger *slog.Logger
}

// Term is what a runner of one lease term is fenced by.
type Term struct {
	// Fence reports whether the term is still held; it is asked before
	// every flush.
	Fence func() error
	// Token is the term's fencing token, stored with every checkpoint.
	Token uint64
	// Fenced ends the term: the store refused a flush for its token.
	Fenced func()
}

// Leader campaigns for the lease and runs the projections while it holds
// it.
type Leader struct {
	o       Options
	mu      sync.Mutex
	cur     *runner.Runner
	token   uint64
	started chan struct{} // closed when the first term's runner is running
	once    sync.Once
}

// New returns a Leader; Run campaigns.
func New(o Options) *Leader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Leader{o: o, started: make(chan struct{})}
}

// Run campaigns until ctx ends; on the way out it flushes and releases.
func (l *Leader) Run(ctx context.Context) error {
	return l.o.Lease.Run(ctx, func(termCtx context.Context, t lease.Term) {
		fence := func() error {
			if !t.Held() {
				return fmt.Errorf("%w (fencing token %d is stale)", ErrNotLeader, t.Token)
			}
			return nil
		}
		refused := make(chan struct{})
		var once sync.Once
		r, err := l.o.Build(termCtx, Term{Fence: fence, Token: t.Token, Fenced: func() { once.Do(func() { close(refused) }) }})
		if err != nil {
			l.o.Logger.Error("projections: cannot start", "err", err)
			return
		}
		runCtx, stop := context.WithCancel(context.Background())
		go func() {
			if err := r.Run(runCtx); err != nil {
				l.o.Logger.Error("projections: router stopped", "err", err)
			}
		}()
		<-r.Running()
		l.mu.Lock()
		l.cur, l.token = r, t.Token
		l.mu.Unlock()
		l.once.Do(func() { close(l.started) })
		l.o.Logger.Info("projections running on this node", "token", t.Token)

		select {
		case <-termCtx.Done():
		case <-refused:
			// A newer term has written, so the lease here is stale
			// however it looks: this term ends, and the campaign goes
			// on. If this node still holds the lease it takes it again
			// with a newer token; if another does, it is refused.
		}
		l.mu.Lock()
		l.cur = nil
		l.mu.Unlock()
		if ctx.Err() != nil {
			// Shutting down while still the holder: flush what is batched.
			if err := r.Close(); err != nil {
				l.o.Logger.Error("projections: close", "err", err)
			}
		} else {
			// The lease is gone: another node may be writing already, so
			// nothing batched here may reach the store.
			r.Abort()
			l.o.Logger.Warn("projections stopped on this node: lease lost or fenced off", "token", t.Token)
		}
		stop()
	})
}

// Started is closed once this node first runs the projections.
func (l *Leader) Started() <-chan struct{} { return l.started }

// Runner returns the running projections, if this node holds the lease.
func (l *Leader) Runner() (*runner.Runner, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur, l.cur != nil
}

// Leading reports whether this node runs the projections now.
func (l *Leader) Leading() bool {
	_, ok := l.Runner()
	return ok
}

// Holder is the lease's holder and expiry, as the lease stream says (see
// lease.Lease.Holder).
func (l *Leader) Holder(ctx context.Context) (string, time.Time, bool, error) {
	return l.o.Lease.Holder(ctx)
}

// Names lists the projections.
func (l *Leader) Names() []string { return l.o.Names }

// WaitFor waits until projection name has stored position pos. Off the
// leaseholder it polls the stored checkpoint.
func (l *Leader) WaitFor(ctx context.Context, name string, pos uint64) error {
	for {
		if r, ok := l.Runner(); ok {
			// Bound each wait, so a lost lease switches to polling.
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := r.WaitFor(wctx, name, pos)
			bounded := wctx.Err() != nil
			cancel()
			// Only the bound's end goes round again: any other error (an
			// unknown projection) would come back at once, and looping on
			// it held a core until the caller's deadline.
			if err == nil || ctx.Err() != nil || !bounded {
				return err
			}
			continue
		}
		if p, err := l.Position(ctx, name); err == nil && p >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Position is a projection's flushed position.
func (l *Leader) Position(ctx context.Context, name string) (uint64, error) {
	if r, ok := l.Runner(); ok {
		if p, ok := r.Position(name); ok {
			return p, nil
		}
	}
	cp, err := l.o.Store.LoadCheckpoint(ctx, name)
	if errors.Is(err, readstore.ErrNotFound) {
		return 0, nil
	}
	return cp.Position, err
}

// Lag is what runner.Lag reports, from the checkpoint off the leaseholder.
func (l *Leader) Lag(name string) (runner.Lag, bool) {
	if r, ok := l.Runner(); ok {
		return r.Lag(name)
	}
	p, err := l.Position(context.Background(), name)
	return runner.Lag{Position: p}, err == nil
}

// Behind counts the events a projection has yet to apply.
func (l *Leader) Behind(ctx context.Context, name string, head uint64) uint64 {
	p, err := l.Position(ctx, name)
	if err != nil || head <= p {
		return 0
	}
	n, err := l.o.Events.CountAfter(ctx, p, head, 100000)
	if err != nil {
		return 0
	}
	return n
}

// Rebuild rebuilds a projection; only on the leaseholder.
func (l *Leader) Rebuild(ctx context.Context, name string, o runner.RebuildOptions) (runner.Progress, error) {
	r, ok := l.Runner()
	if !ok {
		return runner.Progress{}, ErrNotLeader
	}
	return r.Rebuild(ctx, name, o)
}

// ReplayParked replays parked messages; only on the leaseholder.
func (l *Leader) ReplayParked(ctx context.Context, name string) (int, error) {
	r, ok := l.Runner()
	if !ok {
		return 0, ErrNotLeader
	}
	return r.ReplayParked(ctx, name)
}
