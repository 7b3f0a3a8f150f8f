// Package runner runs projections: it feeds each one the $all events from a
// watermill Router, lets it change documents in an in-memory batch, and
// flushes the batch to the read-model store as one bulk write followed by
// the projection's checkpoint.
//
// Exactly-once effects come from two rules rather than from transactions:
// every document remembers the $all position of the last event applied to
// it (a replayed event is skipped), and the checkpoint is written only after
// the documents. A crash between the two replays events the documents have
// already seen, which the first rule turns into no-ops.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
)

// Collection declares a logical collection a projection writes.
type Collection struct {
	Name string
	Kind readstore.Kind
	// Uncached keeps the collection's documents out of the runner's cache
	// of flushed documents, for a collection written once per event and
	// read back only when an event is replayed or a rare event rewrites
	// old documents (an audit entry). Such documents would fill the cache,
	// pushing out the ones the projection reads on every event, and hold
	// memory the collector scans. A read of one that is not in the
	// current or in-flight batch goes to the store.
	Uncached bool
}

// uncachedOf lists a projection's uncached collections by logical name.
func uncachedOf(p Projection) map[string]bool {
	var u map[string]bool
	for _, c := range p.Collections() {
		if c.Uncached {
			if u == nil {
				u = map[string]bool{}
			}
			u[c.Name] = true
		}
	}
	return u
}

// Projection builds read models from events.
type Projection interface {
	// Name identifies the projection, its checkpoint and its topic.
	Name() string
	// Collections lists the logical collections it owns.
	Collections() []Collection
	// Apply changes documents through tx. It must be deterministic: a
	// rebuild from position 0 has to produce the same documents.
	Apply(ctx context.Context, tx *Tx, ev eventstore.Recorded) error
}

// Options configure a Runner.
type Options struct {
	Store      readstore.Store
	Subscriber message.Subscriber
	// BatchSize flushes after this many events; FlushInterval flushes a
	// non-empty batch at least this often (default 100 ms: read-your-writes
	// queries ask for their flush sooner, so the interval only bounds how
	// stale a read without ?after may be, and longer batches mean fewer
	// transactions on the store's single writer: +10% SubmitApplication
	// throughput against 20 ms in interleaved runs).
	BatchSize     int
	FlushInterval time.Duration
	// FlushGap is the least time between two flushes that a waiting
	// read-your-writes query asks for (default 5 ms or FlushInterval): such a
	// query need not wait for the next FlushInterval, and under load the
	// flushes it asks for still batch.
	FlushGap time.Duration
	Logger   *slog.Logger
	// Events, when set, parks poison messages in its ParkedStream (after
	// the retries run out) and is where ReplayParked reads them back.
	Events *eventstore.Store
	// Retries before a message is parked.
	Retries int
	// Fence, if set, is asked before every flush; an error (the lease was
	// lost) refuses the flush, so a stale leaseholder writes nothing.
	Fence func() error
	// FenceToken is the lease term's fencing token, stored with every
	// checkpoint this runner flushes. The store refuses a flush with an
	// older token than it holds (readstore.ErrFenced), which stops the one
	// write Fence cannot: one already under way when the term ended, by a
	// holder stalled past its successor's start. Zero: not under a lease.
	FenceToken uint64
	// Fenced, if set, is called once when the store first refuses a flush
	// for FenceToken: the term is over, whatever the lease says here, and
	// the caller should end it. It runs on a flush's goroutine and must
	// not block.
	Fenced func()
	// Middlewares are added to the router after the defaults.
	Middlewares []message.HandlerMiddleware
	// CacheBytes bounds each projection's cache of flushed documents, in
	// bytes of their JSON (default DefaultCacheBytes); the least recently
	// used go first.
	CacheBytes int64
}

// Runner owns the watermill Router that drives the projections.
type Runner struct {
	opts   Options
	router *message.Router
	states map[string]*state
	// atomicFlush: the store never holds a document ahead of its
	// projection's checkpoint (readstore.AtomicFlusher).
	atomicFlush bool
	// handling counts messages inside the middleware chain, poison queue
	// included; closing refuses new ones. Watermill's Close can return
	// while a message handed to a handler at that moment is still being
	// handled, and that one may still be parking itself through the event
	// store the caller is about to close.
	handlingMu sync.Mutex
	closing    bool
	handling   sync.WaitGroup
	// flushCtx is the context of the live projections' flushes in the
	// background: not their caller's (a message's, which the ack cancelled
	// while the flush went on, so that every flush a full batch started
	// failed), but one that only Abort ends.
	flushCtx    context.Context
	stopFlushes context.CancelFunc
	// fencedOff: the store refused a flush for its token (see storeFlush).
	fencedOff atomic.Bool
}

// errClosing nacks a message that arrives while the runner closes; the
// next run gets it again from the checkpoint.
var errClosing = errors.New("runner: closing")

// parkable says whether a message whose handling failed with err is to be
// parked. Not when the runner is stopping: the message was cut short
// (Retry gives up with the context's error when the router closes, an
// aborted runner refuses it), not found poisonous, and the next run
// applies it from the checkpoint; parked, it stayed listed for a replay
// that would apply it a second time.
func (r *Runner) parkable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errAborted) || errors.Is(err, errClosing) || errors.Is(err, readstore.ErrFenced) {
		return false
	}
	r.handlingMu.Lock()
	defer r.handlingMu.Unlock()
	return !r.closing
}

// track is the outermost middleware (see handling).
func (r *Runner) track(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		r.handlingMu.Lock()
		if r.closing {
			r.handlingMu.Unlock()
			return nil, errClosing
		}
		r.handling.Add(1)
		r.handlingMu.Unlock()
		defer r.handling.Done()
		return h(msg)
	}
}

// stopRouter closes the router and waits, as long as the router would,
// for the messages still being handled.
func (r *Runner) stopRouter() error {
	r.handlingMu.Lock()
	r.closing = true
	r.handlingMu.Unlock()
	err := r.router.Close()
	done := make(chan struct{})
	go func() { r.handling.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		if err == nil {
			err = errors.New("runner: messages still being handled after the close timeout")
		}
	}
	return err
}

// closeTimeout bounds how long Close waits for messages being handled.
const closeTimeout = 10 * time.Second

// New prepares the projections' collections and the router.
func New(ctx context.Context, opts Options, projections ...Projection) (*Runner, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 100 * time.Millisecond
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.FlushGap <= 0 || opts.FlushGap > opts.FlushInterval {
		opts.FlushGap = min(5*time.Millisecond, opts.FlushInterval)
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: closeTimeout}, watermill.NewSlogLogger(opts.Logger))
	if err != nil {
		return nil, fmt.Errorf("runner: new router: %w", err)
	}
	r := &Runner{opts: opts, router: router, states: map[string]*state{}}
	r.flushCtx, r.stopFlushes = context.WithCancel(context.Background())
	router.AddMiddleware(r.track)
	// Order matters: track wraps everything (see Runner.handling); the
	// poison queue must wrap the retries, so a message
	// is parked only after its last retry failed; the recoverer sits inside
	// so a panicking projection is retried and parked like a failing one.
	if opts.Events != nil {
		pq, err := middleware.PoisonQueueWithFilter(eventstore.NewPublisher(opts.Events), eventstore.ParkedStream, r.parkable)
		if err != nil {
			return nil, fmt.Errorf("runner: poison queue: %w", err)
		}
		router.AddMiddleware(pq)
	}
	router.AddMiddleware(
		middleware.Retry{MaxRetries: opts.Retries, InitialInterval: 50 * time.Millisecond, MaxInterval: 2 * time.Second, Multiplier: 2, Logger: watermill.NewSlogLogger(opts.Logger)}.Middleware,
		middleware.Recoverer,
	)
	router.AddMiddleware(opts.Middlewares...)
	if af, ok := opts.Store.(readstore.AtomicFlusher); ok {
		r.atomicFlush = af.AtomicFlush()
	}
	for _, p := range projections {
		st, err := r.prepare(ctx, p)
		if err != nil {
			return nil, err
		}
		r.states[p.Name()] = st
		router.AddConsumerHandler(p.Name(), p.Name(), opts.Subscriber, st.handle)
	}
	return r, nil
}

// StartFrom answers the subscriber's question of where a topic resumes.
func StartFrom(store readstore.Store) func(ctx context.Context, topic string) (uint64, bool, error) {
	return func(ctx context.Context, topic string) (uint64, bool, error) {
		cp, err := store.LoadCheckpoint(ctx, topic)
		if errors.Is(err, readstore.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		return cp.Position, cp.Position > 0, nil
	}
}

func physical(logical string, gen int) string { return fmt.Sprintf("%s_g%d", logical, gen) }

func (r *Runner) prepare(ctx context.Context, p Projection) (*state, error) {
	cp, err := r.opts.Store.LoadCheckpoint(ctx, p.Name())
	if errors.Is(err, readstore.ErrNotFound) {
		cp = readstore.Checkpoint{Projection: p.Name(), Generation: 1}
	} else if err != nil {
		return nil, fmt.Errorf("runner: load checkpoint of %s: %w", p.Name(), err)
	}
	if cp.Generation == 0 {
		cp.Generation = 1
	}
	st := &state{r: r, p: p, cp: cp, phys: map[string]string{}, uncached: uncachedOf(p), changed: make(chan struct{}), batchSize: r.opts.BatchSize, poke: make(chan struct{}, 1),
		async: true, live: true, cacheBytes: r.opts.CacheBytes, sizes: newSizes(p)}
	aliases := map[string]string{}
	for _, c := range p.Collections() {
		name := physical(c.Name, cp.Generation)
		if err := r.opts.Store.EnsureCollection(ctx, name, c.Kind); err != nil {
			return nil, fmt.Errorf("runner: ensure %s: %w", name, err)
		}
		st.phys[c.Name] = name
		if cur, err := r.opts.Store.Alias(ctx, c.Name); err != nil || cur != name {
			aliases[c.Name] = name
		}
	}
	if len(aliases) > 0 {
		if err := r.opts.Store.SetAliases(ctx, aliases); err != nil {
			return nil, fmt.Errorf("runner: set aliases of %s: %w", p.Name(), err)
		}
	}
	if err := r.dropLeftovers(ctx, p, cp.Generation); err != nil {
		return nil, err
	}
	return st, nil
}

// dropLeftovers drops the generations of p's collections that no alias
// points at: the old one a rebuild drops DropDelay after its switch, and a
// rebuild's half-built new one. A process that ended in between (a
// restart, kill -9, a lost lease) left them for good, holding personal
// data that erasures, which rewrite the live generation, never reached
// (ops QA). A runner is built at the start of a lease term, when no other
// node runs these projections or their rebuilds, so nothing drops a
// generation in use. Dropping one that is not there costs nothing.
func (r *Runner) dropLeftovers(ctx context.Context, p Projection, live int) error {
	for _, c := range p.Collections() {
		for gen := 1; gen <= live+1; gen++ {
			if gen == live {
				continue
			}
			if err := r.opts.Store.DropCollection(ctx, physical(c.Name, gen)); err != nil {
				return fmt.Errorf("runner: drop the leftover %s: %w", physical(c.Name, gen), err)
			}
		}
	}
	return nil
}

// Run runs the router until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	for _, st := range r.states {
		go st.flushLoop(ctx)
	}
	return r.router.Run(ctx)
}

// Running is closed once the router runs.
func (r *Runner) Running() chan struct{} { return r.router.Running() }

// Close stops the router and flushes what is batched.
func (r *Runner) Close() error {
	err := r.stopRouter()
	for _, st := range r.states {
		if ferr := st.flushSync(context.Background()); ferr != nil && err == nil {
			err = ferr
		}
	}
	return err
}

// DropCaches empties every projection's cache of the documents it read or
// wrote; they are read back from the store when next needed. For a quiet
// moment after a burst (omsd's memrelease): the cached documents are live
// heap, and the spans they share with the burst's garbage stay in use.
// Only the live projections' caches: a rebuild's fresh state is not among
// r.states, and its cache is what spares it a store read per miss.
func (r *Runner) DropCaches() {
	for _, st := range r.states {
		st.mu.Lock()
		st.cache, st.complete, st.absent = nil, false, absentNotes{}
		st.mu.Unlock()
	}
}

// Abort stops the router without flushing: for a node that lost its lease,
// whose batches must not reach the store. A flush in flight that has not
// begun writing is cancelled, and Abort returns only once none is left: one
// landing later would overwrite what the next holder wrote meanwhile.
func (r *Runner) Abort() {
	r.stopFlushes()
	for _, st := range r.states {
		st.mu.Lock()
		st.batch, st.order, st.events, st.pending = nil, nil, 0, st.cp.Position
		st.cache, st.complete, st.absent = nil, false, absentNotes{}
		st.aborted = true
		j := st.inflight
		st.mu.Unlock()
		if j != nil {
			<-j.done
		}
	}
	_ = r.stopRouter()
}

// Position is the $all position a projection has flushed.
func (r *Runner) Position(name string) (uint64, bool) {
	st, ok := r.states[name]
	if !ok {
		return 0, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cp.Position, true
}

// WaitFor blocks until projection name has flushed position pos or beyond,
// for read-your-writes queries.
func (r *Runner) WaitFor(ctx context.Context, name string, pos uint64) error {
	st, ok := r.states[name]
	if !ok {
		return fmt.Errorf("runner: unknown projection %q", name)
	}
	for {
		st.mu.Lock()
		done := st.cp.Position >= pos
		ch := st.changed
		if !done {
			st.awaitLocked(pos)
		}
		st.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// state is one projection's batch and checkpoint.
type state struct {
	r    *Runner
	p    Projection
	phys map[string]string // logical → physical collection
	// uncached are the logical collections kept out of cache (see
	// Collection.Uncached).
	uncached map[string]bool

	batchSize int

	mu          sync.Mutex
	aborted     bool
	lastCreated time.Time            // when the last applied event was written
	cp          readstore.Checkpoint // flushed
	pending     uint64               // position of the last event applied to the batch
	batch       map[key]*entry       // dirty documents of the current batch
	order       []key
	cache       *docCache // clean documents as last flushed (nil val: absent)
	cacheBytes  int64     // the cache's budget
	absent      absentNotes
	sizes       sizes
	// complete is true while the cache holds every document of the
	// collections (a rebuild into empty ones, not yet evicted): a miss is
	// then known absent without asking the store.
	complete bool
	// trackWritten (rebuilds) keeps, once the cache was evicted, the set
	// written of the hashes of every key the generation wrote, so that a
	// miss on a document never written needs no store read: in a rebuild
	// almost every lookup of a new document is one.
	trackWritten bool
	written      map[uint64]struct{}
	// writtenUncached is written's counterpart for the uncached
	// collections, kept from a rebuild's start, since none of their
	// documents is ever in the cache: on a store without atomic flushes
	// every audit entry would otherwise cost a store read in a rebuild.
	writtenUncached map[uint64]struct{}
	// async hands each batch to the store on a goroutine and goes on
	// applying; inflight is that flush, at most one. A live projection
	// flushes so because SQLite's single writer is shared by every
	// projection and the scans: a flush holding the state's lock while it
	// queued for the writer stalled the events behind it (the cabinet's
	// apply delay p99 was 48-79 ms at 400 commands/s, 36 ms without that).
	async    bool
	inflight *flushJob
	// live states take their finished flush's outcome on the flush's own
	// goroutine, so read-your-writes waiters wake when the write commits;
	// a rebuild's fresh state is driven by one goroutine without the lock
	// and takes it in waitFlush.
	live bool
	// again is set when a flush was asked for while one was in flight;
	// the finished flush then asks for the next.
	again bool
	// unstored: cp is not in the store under its name, so the next flush
	// writes it even with no document to go with it (a rebuild's switch).
	unstored bool
	events   int
	changed  chan struct{} // closed when cp advances
	// want is the least position a read-your-writes query waits for that
	// is not applied yet (0: none); once it is, poke asks the flush loop
	// for an early flush.
	want uint64
	poke chan struct{}
}

// awaitLocked asks for a flush as soon as pos is applied.
func (st *state) awaitLocked(pos uint64) {
	if j := st.inflight; j != nil && j.cp.Position >= pos {
		return // the flush on its way covers pos
	}
	if st.pending >= pos {
		st.pokeFlush()
		return
	}
	if st.want == 0 || pos < st.want {
		st.want = pos
	}
}

func (st *state) pokeFlush() {
	select {
	case st.poke <- struct{}{}:
	default: // a flush is asked for already
	}
}

// flushJob is a batch on its way to the store.
type flushJob struct {
	done chan struct{}
	cp   readstore.Checkpoint
	err  error
	// docs are the batch's documents, for reads while it is written.
	docs map[key]*entry
}

// waitFlush waits for the flush in flight, if any, and takes its
// outcome.
func (st *state) waitFlush() error {
	j := st.inflight
	if j == nil {
		return nil
	}
	<-j.done
	return st.finishFlush(j)
}

// finishFlush takes a finished flush's outcome: its checkpoint, or on a
// live state's failure its documents back into the batch (behind any newer
// version of the same document), so that the next flush writes them again
// and nothing applied is lost. A rebuild fails instead.
func (st *state) finishFlush(j *flushJob) error {
	st.inflight = nil
	if j.err != nil {
		if st.live && !st.aborted {
			if st.batch == nil {
				st.batch = map[key]*entry{}
			}
			for k, e := range j.docs {
				if _, newer := st.batch[k]; !newer {
					st.batch[k] = e
					st.order = append(st.order, k)
				}
			}
		}
		return j.err
	}
	st.cp, st.unstored = j.cp, false
	close(st.changed)
	st.changed = make(chan struct{})
	if st.again {
		st.again = false
		st.pokeFlush()
	}
	return nil
}

type key struct{ coll, id string }

var errAborted = errors.New("runner: aborted")

// handle applies one live message. A replay of a parked one (replayOne)
// bypasses the checkpoint, which has moved past it, but not the
// per-document positions, so documents that moved on are left alone.
func (st *state) handle(msg *message.Message) error {
	ev, err := eventstore.FromMessage(msg)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.applyLocked(msg.Context(), ev, false)
}

func (st *state) applyLocked(ctx context.Context, ev eventstore.Recorded, force bool) error {
	if st.aborted {
		return errAborted
	}
	if !force && (ev.Position <= st.cp.Position || ev.Position <= st.pending) {
		return nil // already applied
	}
	first := !force && st.r.atomicFlush
	tx := &Tx{st: st, ctx: ctx, pos: ev.Position, first: first, starts: first && ev.Revision == 0, parked: force}
	if err := st.p.Apply(ctx, tx, ev); err != nil {
		// Nothing of a failed apply may stay in the batch.
		tx.rollback()
		st.logEvent(ctx, slog.LevelWarn, "projection failed to apply an event; it will be retried", ev, slog.String("err", err.Error()))
		return fmt.Errorf("projection %s: %s at %d: %w", st.p.Name(), ev.Envelope.Type, ev.Position, err)
	}
	tx.commit()
	st.logEvent(ctx, slog.LevelDebug, "projection applied event", ev)
	if ev.Position > st.pending {
		st.pending = ev.Position
		st.lastCreated = ev.Created
	}
	if st.want != 0 && st.pending >= st.want {
		st.want = 0
		st.pokeFlush()
	}
	st.events++
	if st.events >= st.batchSize {
		return st.flushLocked(ctx)
	}
	return nil
}

// logEvent logs about one event with the ids its envelope carries: the
// correlation id of the command that caused it, and the causation id (for
// a command sent over HTTP, the request id), so that the request's log
// lines and the projections' lines for its events are found together.
// Stream names are logged by category only: some (enp-<number>) are
// personal identifiers.
func (st *state) logEvent(ctx context.Context, level slog.Level, msg string, ev eventstore.Recorded, extra ...slog.Attr) {
	lg := st.r.opts.Logger
	if !lg.Enabled(ctx, level) {
		return
	}
	category, id, _ := strings.Cut(ev.Stream, "-")
	attrs := append([]slog.Attr{
		slog.String("projection", st.p.Name()),
		slog.String("event_type", ev.Envelope.Type),
		slog.String("event_id", ev.Envelope.EventID),
		slog.String("stream_category", category),
		slog.Uint64("position", ev.Position),
	}, extra...)
	if e := ev.Envelope; e.CorrelationID != "" {
		attrs = append(attrs, slog.String("correlation_id", e.CorrelationID), slog.String("causation_id", e.CausationID))
	}
	if category == "application" {
		attrs = append(attrs, slog.String("application", id))
	}
	lg.LogAttrs(ctx, level, msg, attrs...)
}

func (st *state) flushLoop(ctx context.Context) {
	t := time.NewTicker(st.r.opts.FlushInterval)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-st.poke:
			if wait := st.r.opts.FlushGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		if err := st.flush(ctx); err != nil {
			st.r.opts.Logger.Error("projection flush failed; will retry", "projection", st.p.Name(), "err", err)
		}
	}
}

// flush is the flush loop's: it starts a flush unless one is in flight,
// in which case that one asks for the next when it finishes, so the loop
// never holds the lock while the store writes.
func (st *state) flush(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if j := st.inflight; j != nil {
		select {
		case <-j.done:
		default:
			st.again = true
			return nil
		}
	}
	return st.flushLocked(ctx)
}

// flushSync flushes everything applied and waits until it is stored.
func (st *state) flushSync(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.flushSyncLocked(ctx)
}

func (st *state) flushSyncLocked(ctx context.Context) error {
	if err := st.flushLocked(ctx); err != nil {
		return err
	}
	return st.waitFlush()
}

func (st *state) flushLocked(ctx context.Context) error {
	covered := st.cp.Position
	if j := st.inflight; j != nil {
		covered = j.cp.Position
	}
	if st.pending <= covered && len(st.order) == 0 && !st.unstored {
		return st.waitFlush()
	}
	if err := st.fence(); err != nil {
		return err
	}
	if err := st.waitFlush(); err != nil {
		return err
	}
	// Asked again: the term may have ended while the last flush took its
	// time, and this one would then write after a successor's.
	if err := st.fence(); err != nil {
		return err
	}
	cp := st.cp
	cp.Position = max(st.pending, st.cp.Position)
	cp.UpdatedAt = time.Now().UTC()
	if st.async {
		// The batch's documents go to the cache now, so the next events
		// see them while the store writes them.
		for _, k := range st.order {
			st.remember(k, st.batch[k])
		}
		j := &flushJob{done: make(chan struct{}), cp: cp, docs: st.batch}
		order := st.order
		st.batch, st.order, st.events = nil, nil, 0
		st.inflight = j
		if st.live {
			// Whoever asked for it (a full batch, the flush loop's timer,
			// a read-your-writes wait), a live flush in the background ends
			// with the runner's Abort only: the caller's context may end
			// first (a message's, at its ack), and the flush loop's ends
			// only after Abort has waited for the flush.
			ctx = st.r.flushCtx
		}
		go func() {
			// Encoding happens here too, off the lock: the values are
			// immutable (see Tx), and the next events apply meanwhile.
			writes, err := st.writes(order, j.docs)
			if err == nil {
				err = st.r.storeFlush(ctx, writes, cp)
			}
			if err != nil {
				j.err = fmt.Errorf("runner: flush %s: %w", st.p.Name(), err)
			}
			// done first: a waitFlush holding the lock takes the outcome.
			close(j.done)
			if !st.live {
				return
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.inflight == j {
				if err := st.finishFlush(j); err != nil {
					st.r.opts.Logger.Error("projection flush failed; will retry", "projection", st.p.Name(), "err", err)
				}
			}
		}()
		return nil
	}
	writes, err := st.writes(st.order, st.batch)
	if err != nil {
		return err
	}
	if err := st.r.storeFlush(ctx, writes, cp); err != nil {
		return fmt.Errorf("runner: flush %s: %w", st.p.Name(), err)
	}
	st.cp, st.unstored = cp, false
	for _, k := range st.order {
		st.remember(k, st.batch[k])
	}
	st.batch, st.order, st.events = nil, nil, 0
	close(st.changed)
	st.changed = make(chan struct{})
	return nil
}

// fence asks the runner's Fence, if any, whether this node may still write.
// Once the store has refused a flush for its token, the answer is no
// without asking: the term is over, whatever the lease still says here.
func (st *state) fence() error { return st.r.fence() }

func (r *Runner) fence() error {
	if r.fencedOff.Load() {
		return fmt.Errorf("runner: a newer lease term wrote to the store: %w", readstore.ErrFenced)
	}
	if f := r.opts.Fence; f != nil {
		return f()
	}
	return nil
}

// storeFlush is every flush of the runner's, with the term's token.
func (r *Runner) storeFlush(ctx context.Context, writes []readstore.Write, cp readstore.Checkpoint) error {
	cp.Fence = r.opts.FenceToken
	err := r.opts.Store.Flush(ctx, writes, cp)
	if errors.Is(err, readstore.ErrFenced) && !r.fencedOff.Swap(true) {
		r.opts.Logger.Warn("projections: the store refused a flush, a newer lease term has written; this node writes no more in this term",
			"projection", cp.Projection, "token", r.opts.FenceToken)
		if r.opts.Fenced != nil {
			r.opts.Fenced()
		}
	}
	return err
}

// writes encodes a batch for the store, in the order the store needs.
// Besides its arguments it reads only st.p, fixed at New, and st.phys,
// which changes only at a rebuild's switch after the flush in flight has
// finished, so an asynchronous flush runs it without the lock.
func (st *state) writes(order []key, batch map[key]*entry) ([]readstore.Write, error) {
	writes := make([]readstore.Write, 0, len(order))
	type tally struct{ bytes, docs int64 }
	seen := map[string]*tally{}
	for _, k := range order {
		e := batch[k]
		w := readstore.Write{Collection: e.coll, Doc: readstore.Doc{ID: e.id, Position: e.pos, Queue: e.queue}, Delete: e.val == nil}
		if !w.Delete {
			body, err := encode(e.val)
			if err != nil {
				return nil, fmt.Errorf("runner: %s: %s/%s: %w", st.p.Name(), k.coll, k.id, err)
			}
			w.Doc.Body = body
			t := seen[k.coll]
			if t == nil {
				t = &tally{}
				seen[k.coll] = t
			}
			t.bytes += int64(len(body))
			t.docs++
			// A raw body passes through as the projection gave it; one
			// encoded here needs no second validation in the store.
			_, raw := e.val.(json.RawMessage)
			w.Encoded = !raw
		}
		writes = append(writes, w)
	}
	// What the batch's documents cost the cache is known only now; the
	// next batch's are counted at these averages.
	for coll, t := range seen {
		if v, ok := st.sizes[coll]; ok {
			v.Store(t.bytes / t.docs)
		}
	}
	// Collections go to the store in the order the projection declares
	// them: derived documents before the state they derive from (see
	// readstore.Store.Flush).
	rank := map[string]int{}
	for i, c := range st.p.Collections() {
		rank[st.phys[c.Name]] = i
	}
	// Within a collection, by id: a batch holds each document once, so the
	// order is free, and B-tree inserts in key order touch each page once
	// instead of jumping around the index (a rebuild's flushes took twice
	// the time of the same documents inserted in order).
	sort.Slice(writes, func(i, j int) bool {
		ri, rj := rank[writes[i].Collection], rank[writes[j].Collection]
		if ri != rj {
			return ri < rj
		}
		return writes[i].Doc.ID < writes[j].Doc.ID
	})
	return writes, nil
}

// ReplayParked re-applies the parked messages of projection name, in the
// order they were parked, after a fix. Each one that applies is marked
// replayed; the first that fails again stops the replay and is reported.
func (r *Runner) ReplayParked(ctx context.Context, name string) (int, error) {
	st, ok := r.states[name]
	if !ok {
		return 0, fmt.Errorf("runner: unknown projection %q", name)
	}
	if r.opts.Events == nil {
		return 0, errors.New("runner: no event store to read parked messages from")
	}
	parked, err := r.opts.Events.ListParked(ctx, eventstore.ParkedStream)
	if err != nil {
		return 0, err
	}
	// The positions of this projection's parked events, by stream: one
	// parked after another of its stream is not "applied" by the check
	// below, and once one is left parked the later ones of its stream are
	// too, as they would land without it.
	mine := map[string]map[uint64]bool{}
	for _, p := range parked {
		if p.Handler() != name {
			continue
		}
		stream := p.Message.Metadata[eventstore.MetaStream]
		if pos, err := strconv.ParseUint(p.Message.Metadata[eventstore.MetaPosition], 10, 64); err == nil {
			if mine[stream] == nil {
				mine[stream] = map[uint64]bool{}
			}
			mine[stream][pos] = true
		}
	}
	left := map[string]bool{} // streams with a parked event left parked
	n, skipped := 0, 0
	for _, p := range parked {
		if p.Handler() != name {
			continue
		}
		stream := p.Message.Metadata[eventstore.MetaStream]
		if left[stream] {
			skipped++
			continue
		}
		msg, err := r.opts.Events.ToMessage(ctx, p)
		if err != nil {
			return n, err
		}
		ev, err := eventstore.FromMessage(msg)
		if err != nil {
			return n, err
		}
		later, err := r.replayOne(ctx, st, p, ev, mine[stream])
		if err != nil {
			return n, err
		}
		if later {
			left[stream] = true
			skipped++
			continue
		}
		if err := r.opts.Events.MarkReplayed(ctx, eventstore.ParkedStream, p.EventID, events.Metadata{Actor: events.Actor{ID: "omsctl", Role: events.RoleAdmin}}); err != nil {
			return n, err
		}
		n++
	}
	if skipped > 0 {
		return n, &SupersededError{Projection: name, Skipped: skipped}
	}
	return n, nil
}

// replayOne applies a parked event unless a later event of its stream is
// applied already (later). The check and the apply hold the projection's
// lock together, and the check counts the events applied but not yet
// flushed: checked against the checkpoint alone, or with a live event of
// the stream landing between the two, the replay met documents that had
// moved on, did nothing, and was counted as replayed (review).
func (r *Runner) replayOne(ctx context.Context, st *state, p eventstore.Parked, ev eventstore.Recorded, parked map[uint64]bool) (later bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if later, err = r.supersededBy(ctx, max(st.cp.Position, st.pending), p, parked); err != nil || later {
		return later, err
	}
	if err := st.applyLocked(ctx, ev, true); err != nil {
		return false, fmt.Errorf("runner: replay of parked %s failed again: %w", p.EventID, err)
	}
	return false, st.flushSyncLocked(ctx)
}

// SupersededError reports parked messages that ReplayParked left parked
// because later events of their streams are already in the projection.
type SupersededError struct {
	Projection string
	Skipped    int
}

func (e *SupersededError) Error() string {
	return fmt.Sprintf("runner: %d parked messages of %s not replayed: later events of their streams are applied already; rebuild the projection to include them", e.Skipped, e.Projection)
}

// supersededBy says whether the projection has applied, through applied,
// an event of the parked message's stream that came after it (one parked too, among
// parked, was not applied). Applied now, the message
// would land behind that event: on a document that event wrote it is a
// no-op (the document's position is past it), and one that event deleted
// it would bring back. Only a rebuild, which applies every event in its
// order, puts it in its place.
func (r *Runner) supersededBy(ctx context.Context, applied uint64, p eventstore.Parked, parked map[uint64]bool) (bool, error) {
	md := p.Message.Metadata
	stream := md[eventstore.MetaStream]
	rev, err1 := strconv.ParseUint(md[eventstore.MetaRevision], 10, 64)
	pos, err2 := strconv.ParseUint(md[eventstore.MetaPosition], 10, 64)
	if stream == "" || err1 != nil || err2 != nil {
		return false, nil // not an event of a stream: nothing to come after it
	}
	if applied <= pos {
		return false, nil
	}
	after, err := r.opts.Events.LoadFrom(ctx, stream, rev+1, ^uint64(0))
	if err != nil {
		return false, fmt.Errorf("runner: read %s after the parked message: %w", stream, err)
	}
	for _, e := range after {
		if e.Position > pos && e.Position <= applied && !parked[e.Position] {
			return true, nil
		}
	}
	return false, nil
}

// Names lists the projections, sorted.
func (r *Runner) Names() []string {
	out := make([]string, 0, len(r.states))
	for n := range r.states {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Behind estimates how many events projection name has yet to apply to
// reach head. The subscriber reports no counts, so this reads the gap from
// the event store's $all index through the projection's last position; it
// is exact for the embedded store and for EventStoreDB alike because both
// number records by log position, which only grows.
func (r *Runner) Behind(ctx context.Context, name string, head uint64) uint64 {
	st, ok := r.states[name]
	if !ok {
		return 0
	}
	st.mu.Lock()
	pos := st.cp.Position
	st.mu.Unlock()
	if head <= pos || r.opts.Events == nil {
		return 0
	}
	n, err := r.opts.Events.CountAfter(ctx, pos, head, 100000)
	if err != nil {
		return 0
	}
	return n
}

// Lag describes how far a projection trails the event store.
type Lag struct {
	Position uint64
	// LastCreated is when the last event the projection applied was
	// written; the gap to the head event's time is the lag in seconds.
	LastCreated time.Time
}

// Lag returns a projection's flushed position and the write time of the
// last event it applied.
func (r *Runner) Lag(name string) (Lag, bool) {
	st, ok := r.states[name]
	if !ok {
		return Lag{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return Lag{Position: st.cp.Position, LastCreated: st.lastCreated}, true
}
