package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	// CacheBytes bounds each rebuilding projection's cache of documents
	// (default the larger of DefaultRebuildCacheBytes and
	// RebuildCacheFactor × Options.CacheBytes, or only the latter when
	// Options.CacheBytes is below DefaultCacheBytes). A rebuild reads back the views
	// of open applications on every event: a larger cache means fewer
	// store reads, and the memory is given back at the switch.
	CacheBytes int64
	// GCPercent is GOGC while the rebuild runs, if it is the only one
	// running, GOGC is on and below it, and the operator did not set GOGC
	// (the environment's GOGC is left alone, and a rebuild never lowers
	// GOGC); GOGC goes back to its value after the rebuild. A negative
	// value leaves GOGC alone. Zero means DefaultRebuildGCPercent for one
	// projection and GOGC left alone for several (see
	// DefaultRebuildGCPercent).
	GCPercent int
}

// rebuildCacheBytes is a rebuild's default budget for a live one: at
// least DefaultRebuildCacheBytes, unless the live budget was set below its
// default, which says memory is short and the rebuild gets
// RebuildCacheFactor times it instead.
func rebuildCacheBytes(live int64) int64 {
	if live < DefaultCacheBytes {
		return RebuildCacheFactor * live
	}
	return max(DefaultRebuildCacheBytes, RebuildCacheFactor*live)
}

// Rebuild builds projection name from position 0 into a new generation of
// its collections while the current generation keeps serving, then switches
// the aliases in one step and drops the old collections. It is RebuildAll
// of one projection.
func (r *Runner) Rebuild(ctx context.Context, name string, o RebuildOptions) (Progress, error) {
	return r.RebuildAll(ctx, []string{name}, o)
}

// pair is a projection's live state and the fresh generation rebuilt
// beside it.
type pair struct {
	name        string
	live, fresh *state
	gen         int
}

// RebuildAll rebuilds several projections in one pass over $all: each event
// is read, opened and decoded once (Recorded.Payload is shared), and every
// projection applies it on a goroutine of its own, so reading the store
// overlaps with applying and with the single store writer's flushes. All
// of them switch to their new generations in one SetAliases.
//
// The switch is made under the live projections' locks: the rebuild first
// catches up without them, then holds them for the short tail between its
// position and the live ones, so readers never see a gap and the live
// handlers resume on the new generations.
func (r *Runner) RebuildAll(ctx context.Context, names []string, o RebuildOptions) (Progress, error) {
	if r.opts.Events == nil {
		return Progress{}, errors.New("runner: rebuild needs the event store")
	}
	if len(names) == 0 {
		return Progress{}, errors.New("runner: nothing to rebuild")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 10000
	}
	if o.DropDelay <= 0 {
		o.DropDelay = 5 * time.Second
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = rebuildCacheBytes(r.opts.CacheBytes)
	}
	names = slices.Clone(names)
	slices.Sort(names) // one lock order for every rebuild
	names = slices.Compact(names)
	defer enterRebuild(rebuildGCPercent(o.GCPercent, len(names)))()
	pairs := make([]*pair, 0, len(names))
	for _, name := range names {
		live, ok := r.states[name]
		if !ok {
			return Progress{}, fmt.Errorf("runner: unknown projection %q", name)
		}
		live.mu.Lock()
		gen := live.cp.Generation + 1
		live.mu.Unlock()
		fresh := &state{r: r, p: live.p, phys: map[string]string{}, uncached: live.uncached, changed: make(chan struct{}), batchSize: o.BatchSize,
			cp: readstore.Checkpoint{Projection: name, Generation: gen}, complete: true, trackWritten: true, async: true,
			cacheBytes: o.CacheBytes, sizes: newSizes(live.p)}
		if len(fresh.uncached) > 0 {
			fresh.writtenUncached = map[uint64]struct{}{}
		}
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
		// The rebuild's checkpoint must not overwrite the live one until
		// the switch, so it flushes under a name of its own.
		fresh.cp.Projection = name + "~rebuild"
		pairs = append(pairs, &pair{name: name, live: live, fresh: fresh, gen: gen})
	}

	head, err := r.opts.Events.Head(ctx)
	if err != nil {
		return Progress{}, err
	}
	start := time.Now()
	var progMu sync.Mutex
	prog := Progress{Head: head}
	report := func(pos uint64) {
		progMu.Lock()
		defer progMu.Unlock()
		prog.Position, prog.Elapsed = pos, time.Since(start)
		if o.OnProgress != nil {
			o.OnProgress(prog)
		}
	}

	// Catch up without blocking the live projections.
	if err := r.catchUpAll(ctx, pairs, func(ev eventstore.Recorded) {
		progMu.Lock()
		prog.Events++
		n := prog.Events
		progMu.Unlock()
		if n%10000 == 0 {
			report(ev.Position)
		}
	}); err != nil {
		return prog, err
	}

	// Switch: stop the live handlers, take the tail, flip.
	for _, p := range pairs {
		p.live.mu.Lock()
		defer p.live.mu.Unlock()
	}
	var after, last uint64
	after = ^uint64(0)
	for _, p := range pairs {
		if err := p.live.flushSyncLocked(ctx); err != nil {
			return prog, err
		}
		after = min(after, p.fresh.cp.Position)
		last = max(last, p.live.cp.Position)
	}
	var afterPtr *uint64
	if after > 0 {
		afterPtr = &after
	}
	err = r.opts.Events.CatchUp(ctx, afterPtr, func(ev eventstore.Recorded) error {
		if ev.Position > last {
			return errStopCatchUp
		}
		prog.Events++
		for _, p := range pairs {
			if ev.Position <= p.live.cp.Position {
				if err := p.fresh.applyLocked(ctx, ev, false); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopCatchUp) {
		return prog, err
	}
	aliases, back := map[string]string{}, map[string]string{}
	var old []string
	for _, p := range pairs {
		// The new generation is now exactly as far as the live one; its
		// tail is stored, still under the rebuild's checkpoint.
		p.fresh.pending = max(p.fresh.pending, p.live.cp.Position)
		if err := p.fresh.flushLocked(ctx); err != nil {
			return prog, err
		}
		for logical, phys := range p.fresh.phys {
			aliases[logical] = phys
			back[logical] = p.live.phys[logical]
			old = append(old, p.live.phys[logical])
		}
	}
	// The readers move first, then the projection's own checkpoint names
	// the new generation, with no tail left or with one: a restart goes on
	// from the generation its checkpoint names (and points the aliases
	// back at it), so that checkpoint may name the new one only once the
	// switch can no longer fail. Stored first, a switch that then failed
	// left the live projection writing the old generation under a
	// checkpoint naming the new, which the next rebuild takes for its own
	// and drops; a restart before then resumed over empty collections.
	// Aliases carry no token: asked here, a term already over moves no
	// reader.
	if err := r.fence(); err != nil {
		return prog, err
	}
	if err := r.opts.Store.SetAliases(ctx, aliases); err != nil {
		return prog, err
	}
	for i, p := range pairs {
		p.fresh.cp.Projection = p.name
		p.fresh.unstored = true
		if err := p.fresh.flushLocked(ctx); err != nil {
			// The live projections go on in the old generation: their
			// readers go back there, and so do the checkpoints of those
			// switched already (several projections rebuilt at once).
			if ferr := r.fence(); ferr != nil {
				// Refused as a term gone by: the next term's start
				// points the readers at its checkpoint's generation, and
				// it may have switched them since; moving them back here
				// would take them away from what it writes.
				r.opts.Logger.Warn("rebuild: the term ended during the switch; the readers stay where the next term put them", "err", ferr)
				return prog, err
			}
			bctx := context.WithoutCancel(ctx)
			if berr := r.opts.Store.SetAliases(bctx, back); berr != nil {
				r.opts.Logger.Error("rebuild: point the readers back at the live generation", "err", berr)
			}
			// This one's too: its flush may have landed before it
			// failed (a timeout after the commit).
			for _, done := range pairs[:i+1] {
				if berr := r.storeFlush(bctx, nil, done.live.cp); berr != nil {
					r.opts.Logger.Error("rebuild: store the live generation's checkpoint back", "projection", done.name, "err", berr)
				}
			}
			return prog, err
		}
	}
	for _, p := range pairs {
		live, fresh := p.live, p.fresh
		live.phys = fresh.phys
		live.cp = fresh.cp
		// The new generation may be ahead of the live handler: what it
		// covers counts as applied, and whoever waits for it is told.
		live.pending = max(live.pending, live.cp.Position)
		if live.want != 0 && live.pending >= live.want {
			live.want = 0
		}
		close(live.changed)
		live.changed = make(chan struct{})
		live.batch, live.order, live.events = nil, nil, 0
		// The live cache describes the old generation; the fresh one's is
		// exactly the new generation's content.
		live.cache, live.complete, live.absent = fresh.cache, false, absentNotes{}
		if live.cache != nil {
			live.cache.shrink(live.cacheBytes)
		}
	}
	report(last)
	go func() {
		time.Sleep(o.DropDelay)
		for _, phys := range old {
			if err := r.opts.Store.DropCollection(context.Background(), phys); err != nil {
				r.opts.Logger.Warn("rebuild: drop old collection", "collection", phys, "err", err)
			}
		}
	}()
	for _, p := range pairs {
		r.opts.Logger.Info("projection rebuilt", "projection", p.name, "generation", p.gen, "events", prog.Events, "took", time.Since(start).Round(time.Millisecond))
	}
	return prog, nil
}

// catchUpAll reads $all from the start once and feeds every event to each
// fresh state on a goroutine of its own, then flushes them. seen is called
// for each event read.
func (r *Runner) catchUpAll(ctx context.Context, pairs []*pair, seen func(eventstore.Recorded)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	chans := make([]chan eventstore.Recorded, len(pairs))
	for i, p := range pairs {
		// A deep buffer lets the reader run ahead while a projection
		// waits for its flush.
		chans[i] = make(chan eventstore.Recorded, 4096)
		wg.Add(1)
		go func(fresh *state, in <-chan eventstore.Recorded) {
			defer wg.Done()
			for ev := range in {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := fresh.applyLocked(ctx, ev, false); err != nil {
					cancel(err)
				}
			}
			if ctx.Err() == nil {
				if err := fresh.flushLocked(ctx); err != nil {
					cancel(err)
				}
			}
			// The switch below reads and writes the state synchronously.
			if err := fresh.waitFlush(); err != nil {
				cancel(err)
			}
			fresh.async = false
		}(p.fresh, chans[i])
	}
	err := r.opts.Events.CatchUp(ctx, nil, func(ev eventstore.Recorded) error {
		seen(ev)
		for _, c := range chans {
			select {
			case c <- ev:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	})
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

var errStopCatchUp = errors.New("runner: caught up to the live projection")
