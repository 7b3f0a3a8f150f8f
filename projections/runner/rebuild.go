package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/omsonline/oms/events"
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
	// OnProgress is called every 10,000 events, at least every
	// progressEvery while events come, and once at the switch.
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
	// parked are the positions of the projection's parked events not yet
	// replayed, with the parked copies' ids; included are the ids of
	// those the new generation applied (see applyRebuilding).
	parked   map[uint64]string
	included []string
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

	if err := r.loadParked(ctx, pairs); err != nil {
		return Progress{}, err
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

	// Catch up without blocking the live projections. Progress goes out
	// every 10,000 events, and at least every progressEvery in between:
	// by count alone a slow rebuild (the history at 3.5k events/s) showed
	// its first figure after 3 s and then stood still, its events/s
	// falling and its ETA reaching 0 at 56% (ops QA).
	lastReport := start
	if err := r.catchUpAll(ctx, pairs, func(ev eventstore.Recorded) {
		progMu.Lock()
		prog.Events++
		n := prog.Events
		progMu.Unlock()
		if n%10000 == 0 || (n%500 == 0 && time.Since(lastReport) >= progressEvery) {
			lastReport = time.Now()
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
				if err := r.applyRebuilding(ctx, p, ev); err != nil {
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
	r.markIncluded(ctx, pairs)
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
		go func(p *pair, in <-chan eventstore.Recorded) {
			defer wg.Done()
			fresh := p.fresh
			for ev := range in {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := r.applyRebuilding(ctx, p, ev); err != nil {
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
		}(p, chans[i])
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

// loadParked reads which events each rebuilt projection has parked.
func (r *Runner) loadParked(ctx context.Context, pairs []*pair) error {
	parked, err := r.opts.Events.ListParked(ctx, eventstore.ParkedStream)
	if err != nil {
		return fmt.Errorf("runner: rebuild: parked messages: %w", err)
	}
	for _, p := range pairs {
		p.parked = map[uint64]string{}
		for _, m := range parked {
			if m.Handler() != p.name {
				continue
			}
			if pos, err := strconv.ParseUint(m.Message.Metadata[eventstore.MetaPosition], 10, 64); err == nil {
				p.parked[pos] = m.EventID
			}
		}
	}
	return nil
}

// applyRebuilding applies ev to the generation being rebuilt, retrying as
// the live handler does. An event that still fails is parked, as the live
// handler parks it, and the rebuild goes on without it: one bad event must
// not keep a projection from ever being rebuilt. One parked already stays
// parked, once; one parked that applies now is in the new generation, and
// is marked replayed after the switch.
func (r *Runner) applyRebuilding(ctx context.Context, p *pair, ev eventstore.Recorded) error {
	wait := 50 * time.Millisecond
	var err error
	for try := 0; ; try++ {
		if err = applyRecovering(ctx, p.fresh, ev); err == nil {
			if id, ok := p.parked[ev.Position]; ok {
				p.included = append(p.included, id)
			}
			return nil
		}
		_, parkedBefore := p.parked[ev.Position]
		if ctx.Err() != nil || errors.Is(err, errAborted) || try >= r.opts.Retries || parkedBefore {
			// One parked before failed its retries then; once is enough.
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
	if ctx.Err() != nil || errors.Is(err, errAborted) {
		return err
	}
	if _, ok := p.parked[ev.Position]; ok {
		p.fresh.logEvent(ctx, slog.LevelWarn, "rebuild: a parked event still fails and stays parked", ev, slog.String("err", err.Error()))
		return nil
	}
	msg := eventstore.NewMessage(ctx, ev)
	msg.Metadata.Set(middleware.PoisonedHandlerKey, p.name)
	msg.Metadata.Set(middleware.PoisonedTopicKey, p.name)
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, err.Error())
	if perr := eventstore.NewPublisher(r.opts.Events).Publish(eventstore.ParkedStream, msg); perr != nil {
		return errors.Join(err, perr)
	}
	p.parked[ev.Position] = ""
	p.fresh.logEvent(ctx, slog.LevelWarn, "rebuild: parked an event the projection cannot apply", ev, slog.String("err", err.Error()))
	return nil
}

// applyRecovering is applyLocked with a panic turned into an error, as the
// live handler's Recoverer does: a rebuild runs outside the router.
func applyRecovering(ctx context.Context, st *state, ev eventstore.Recorded) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("projection %s panicked at %d: %v", st.p.Name(), ev.Position, v)
		}
	}()
	return st.applyLocked(ctx, ev, false)
}

// markIncluded marks replayed the parked events a rebuild applied: they
// are in the projection now, and a replay would apply them twice.
func (r *Runner) markIncluded(ctx context.Context, pairs []*pair) {
	md := events.Metadata{Actor: events.Actor{ID: "rebuild", Role: events.RoleSystem}}
	for _, p := range pairs {
		for _, id := range p.included {
			if id == "" {
				continue
			}
			if err := r.opts.Events.MarkReplayed(context.WithoutCancel(ctx), eventstore.ParkedStream, id, md); err != nil {
				r.opts.Logger.Warn("rebuild: mark a parked event included", "projection", p.name, "parked_event", id, "err", err)
			}
		}
	}
}

// progressEvery is the longest a rebuild goes without reporting progress
// while events come.
const progressEvery = 250 * time.Millisecond
