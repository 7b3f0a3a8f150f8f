package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
)

// readinessTTL is how long one probe's answer stands. Load balancers probe
// every node every few seconds; a flood of /readyz must not become a flood
// of store round trips.
const readinessTTL = time.Second

// readinessTimeout bounds each store's answer: a store slower than this is
// not serving the node's requests either.
const readinessTimeout = 2 * time.Second

// notReadyWait is how long an ask waits for a new probe while the last one
// said "not ready": a store that is back answers well within it, and one
// still away should not hold every load balancer's probe for the whole
// readinessTimeout.
const notReadyWait = 250 * time.Millisecond

// readiness asks both stores for something small. A node whose event store
// or read store is unreachable cannot serve commands or queries, so the
// load balancer should send their callers to another node; "the process is
// up" is /healthz's answer, not this one.
//
// The probe runs on a goroutine of its own and the answer waits for it at
// most readinessTimeout: the v4 client does not honour a context while it
// reconnects (a call blocks inside the client until the node is back), so
// a probe can outlive its request. One probe at a time: while a stuck one
// is out, the answer is "not ready" at once, and after a "not ready" an ask
// waits for a new probe only notReadyWait before it repeats the last answer.
type readiness struct {
	events *eventstore.Store
	store  readstore.Store
	log    *slog.Logger

	mu      sync.Mutex
	checked time.Time
	err     error
	probing chan struct{} // closed when the probe out there ends; nil if none
	started time.Time     // when that probe started
	// notReady is what the last probe found: a probe that finds otherwise
	// logs it, so that an outage is logged when it starts and when it ends,
	// not on every ask, and in the order the probes found it.
	notReady bool
}

var errNoAnswer = fmt.Errorf("no answer within %s", readinessTimeout)

func (r *readiness) check() error {
	r.mu.Lock()
	if !r.checked.IsZero() && time.Since(r.checked) < readinessTTL {
		defer r.mu.Unlock()
		return r.err
	}
	done := r.probing
	if done == nil {
		done = make(chan struct{})
		r.probing, r.started = done, time.Now()
		go r.probe(done)
	}
	wait := readinessTimeout - time.Since(r.started)
	last := errNoAnswer
	if r.err != nil {
		last = r.err
		wait = min(wait, notReadyWait)
	}
	r.mu.Unlock()
	if wait <= 0 {
		r.stuck()
		return last // a probe stuck past its time: no need to wait on it again
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.err
	case <-t.C:
		r.stuck()
		return last
	}
}

// stuck logs an outage that a probe has not come back from within its
// time: a probe that never returns would otherwise never log it, and one
// that returns ready then logs its end.
func (r *readiness) stuck() {
	r.mu.Lock()
	log := r.probing != nil && time.Since(r.started) >= readinessTimeout && !r.notReady
	if log {
		r.notReady = true
	}
	r.mu.Unlock()
	if log {
		r.log.Warn("not ready", "err", errNoAnswer)
	}
}

func (r *readiness) probe(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
	defer cancel()
	var err error
	defer func() {
		r.mu.Lock()
		was := r.notReady
		r.err, r.checked, r.probing, r.notReady = err, time.Now(), nil, err != nil
		r.mu.Unlock()
		close(done)
		switch {
		case err != nil && !was:
			r.log.Warn("not ready", "err", err)
		case err == nil && was:
			r.log.Info("ready")
		}
	}()
	if _, herr := r.events.Head(ctx); herr != nil {
		err = fmt.Errorf("event store: %w", herr)
	} else if _, cerr := r.store.Checkpoints(ctx); cerr != nil {
		err = fmt.Errorf("read store: %w", cerr)
	}
}

func (a *App) ready(c *fiber.Ctx) error {
	if a.httpLis == nil {
		return c.Status(fiber.StatusServiceUnavailable).SendString("starting")
	}
	if err := a.readiness.check(); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).SendString("not ready: " + err.Error())
	}
	if _, ok := a.leader.Runner(); ok {
		return c.SendString("ready (projections run here)")
	}
	if !a.cfg.RunProjections {
		return c.SendString("ready (this node runs no projections: OMS_RUN_PROJECTIONS=false)")
	}
	return c.SendString("ready (projections run on another node)")
}
