package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
)

// Progress reports a rebuild's advance: events applied so far and the $all
// position reached, out of the head position when the rebuild started.
type Progress struct {
	Events   int
	Position uint64
	Head     uint64
	Elapsed  time.Duration
}

// RebuildOptions tune a rebuild.
type RebuildOptions struct {
	// BatchSize is how many events go into one flush; a rebuild writes
	// into fresh collections nobody reads yet, so large batches are safe.
	BatchSize int
	// OnProgress is called after every flush.
	OnProgress func(Progress)
	// DropDelay is how long the old collections outlive the switch, so
	// that readers holding a cached alias (MongoDB) finish their reads.
	DropDelay time.Duration
}

// Rebuild builds projection name from position 0 into a new generation of
// its collections while the current generation keeps serving, then switches
// the aliases in one step and drops the old collections.
//
// The switch is made under the live projection's lock: the rebuild first
// catches up without it, then holds it for the short tail between its
// position and the live one, so readers never see a gap and the live
// handler resumes on the new generation.
func (r *Runner) Rebuild(ctx context.Context, name string, o RebuildOptions) (Progress, error) {
	live, ok := r.states[name]
	if !ok {
		return Progress{}, fmt.Errorf("runner: unknown projection %q", name)
	}
	if r.opts.Events == nil {
		return Progress{}, errors.New("runner: rebuild needs the event store")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 30000
	}
	if o.DropDelay <= 0 {
		o.DropDelay = 5 * time.Second
	}
	live.mu.Lock()
	gen := live.cp.Generation + 1
	live.mu.Unlock()

	fresh := &state{r: r, p: live.p, phys: map[string]string{}, changed: make(chan struct{}), batchSize: o.BatchSize,
		cp: readstore.Checkpoint{Projection: name, Generation: gen}, complete: true}
	for _, c := range live.p.Collections() {
		phys := physical(c.Name, gen)
		// Leftovers of a rebuild that died half-way are not to be trusted.
		if err := r.opts.Store.DropCollection(ctx, phys); err != nil {
			return Progress{}, err
		}
		if err := r.opts.Store.EnsureCollection(ctx, phys, c.Kind); err != nil {
			return Progress{}, err
		}
		fresh.phys[c.Name] = phys
	}
	// The rebuild's checkpoint must not overwrite the live one until the
	// switch, so it flushes under a name of its own.
	fresh.cp.Projection = name + "~rebuild"

	head, err := r.opts.Events.Head(ctx)
	if err != nil {
		return Progress{}, err
	}
	start := time.Now()
	prog := Progress{Head: head}
	report := func() {
		prog.Position, prog.Elapsed = fresh.cp.Position, time.Since(start)
		if o.OnProgress != nil {
			o.OnProgress(prog)
		}
	}
	apply := func(ev eventstore.Recorded) error {
		if err := fresh.applyLocked(ctx, ev, false); err != nil {
			return err
		}
		prog.Events++
		if fresh.events == 0 { // a flush happened
			report()
		}
		return nil
	}
	// Catch up without blocking the live projection.
	if err := r.opts.Events.CatchUp(ctx, nil, apply); err != nil {
		return prog, err
	}
	if err := fresh.flushLocked(ctx); err != nil {
		return prog, err
	}

	// Switch: stop the live handler, take the tail, flip.
	live.mu.Lock()
	defer live.mu.Unlock()
	if err := live.flushLocked(ctx); err != nil {
		return prog, err
	}
	after := fresh.cp.Position
	var afterPtr *uint64
	if after > 0 {
		afterPtr = &after
	}
	target := live.cp.Position
	err = r.opts.Events.CatchUp(ctx, afterPtr, func(ev eventstore.Recorded) error {
		if ev.Position > target {
			return errStopCatchUp
		}
		return apply(ev)
	})
	if err != nil && !errors.Is(err, errStopCatchUp) {
		return prog, err
	}
	// The new generation is now exactly as far as the live one.
	fresh.pending = max(fresh.pending, target)
	fresh.cp.Projection = name
	if err := fresh.flushLocked(ctx); err != nil {
		return prog, err
	}
	aliases := map[string]string{}
	old := map[string]string{}
	for logical, phys := range fresh.phys {
		aliases[logical] = phys
		old[logical] = live.phys[logical]
	}
	if err := r.opts.Store.SetAliases(ctx, aliases); err != nil {
		return prog, err
	}
	live.phys = fresh.phys
	live.cp = fresh.cp
	live.batch, live.order, live.events = nil, nil, 0
	// The live cache describes the old generation; the fresh one's is
	// exactly the new generation's content.
	live.cache, live.complete = fresh.cache, false
	report()
	go func() {
		time.Sleep(o.DropDelay)
		for _, phys := range old {
			if err := r.opts.Store.DropCollection(context.Background(), phys); err != nil {
				r.opts.Logger.Warn("rebuild: drop old collection", "collection", phys, "err", err)
			}
		}
	}()
	r.opts.Logger.Info("projection rebuilt", "projection", name, "generation", gen, "events", prog.Events, "took", time.Since(start).Round(time.Millisecond))
	return prog, nil
}

var errStopCatchUp = errors.New("runner: caught up to the live projection")
