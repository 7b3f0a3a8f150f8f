// Package runnertest holds what tests of projections need to drive a
// runner into its rarer paths, such as parking an event.
package runnertest

import (
	"context"
	"errors"
	"sync"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// ErrDown is what Failing answers for the streams it fails.
var ErrDown = errors.New("runnertest: the read store did not answer")

// Failing is a projection while the read store fails every write for some
// streams: a runner with few retries parks their events and goes on past
// them, as it does in production when one document cannot be written.
type Failing struct {
	runner.Projection
	mu   sync.Mutex
	down map[string]bool
}

// Apply implements runner.Projection.
func (p *Failing) Apply(ctx context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	p.mu.Lock()
	down := p.down[ev.Stream]
	p.mu.Unlock()
	if down {
		return ErrDown
	}
	return p.Projection.Apply(ctx, tx, ev)
}

// Fail fails the events of streams from now on, and only theirs; no
// streams fails none.
func (p *Failing) Fail(streams ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = map[string]bool{}
	for _, s := range streams {
		p.down[s] = true
	}
}
