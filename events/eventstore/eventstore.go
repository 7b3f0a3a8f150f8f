// Package eventstore is the one API the rest of the service uses to write
// and read events. It speaks to EventStoreDB (or the embedded server, which
// is the same thing on the wire) only through EventStore-Client-Go/v4, and
// exposes the $all subscription as a watermill message.Subscriber so that
// projections run on a watermill Router.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/storedjson"
)

// ContentTypeJSON is the content type of every event this service writes.
const ContentTypeJSON = "application/json"

// Store appends and loads event streams.
type Store struct {
	client    *esdb.Client
	logger    *slog.Logger
	now       func() time.Time
	onAppend  func(time.Duration, error)
	sealer    Sealer
	closeWait time.Duration
	callWait  time.Duration
	// suspectWait replaces callWait while the store is suspect.
	suspectWait time.Duration
	// left counts the calls whose callers stopped waiting while they wait
	// on for the client (see await).
	left atomic.Int64
	// healthy is false until a call reaches the event store, and from a
	// call that could not (or the client's complaint) until one that could
	// (see await).
	healthy atomic.Bool
	// calls is held for reading by every client call under way and taken
	// by Close, which waits for them: the v4 client panics (a send on its
	// closed channel) when a call it was still making fails as unavailable
	// after its Close. closed refuses the calls that come after.
	calls  sync.RWMutex
	closed bool
	// closing refuses new calls as soon as Close starts, before it has
	// the lock: calls stuck on an absent event store may hold it long.
	closing atomic.Bool
}

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("eventstore: the store is closed")

// begin admits a client call unless the store is closed; end (deferred)
// lets Close go on. A call must not begin another while it holds one: a
// Close waiting in between would block the second for good.
func (s *Store) begin() error {
	if s.closing.Load() {
		return ErrClosed
	}
	s.calls.RLock()
	if s.closed {
		s.calls.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) end() { s.calls.RUnlock() }

// Sealer encrypts the personal data in payloads before they are written
// and opens it when they are read (events/piicrypt implements it). The
// adapter is the one place every event passes, so no writer can forget to
// seal and no reader has to remember to open.
type Sealer interface {
	// Seal returns the payload with its personal data sealed under the
	// subject's key; a payload without personal data comes back as is.
	Seal(ctx context.Context, subject, eventType string, payload []byte) ([]byte, error)
	// Open reverses Seal, or marks the personal data erased.
	Open(ctx context.Context, eventType string, payload []byte) ([]byte, error)
}

// Options configure a Store.
type Options struct {
	// URL is an esdb:// connection string.
	URL    string
	Logger *slog.Logger
	// Now is the clock for occurred-at stamps; defaults to time.Now.
	Now func() time.Time
	// OnAppend, if set, observes every append's latency and outcome
	// (metrics).
	OnAppend func(d time.Duration, err error)
	// Sealer, if set, seals personal data on append and opens it on every
	// read. The service always sets one; tools that only move bytes
	// around (benchmarks of the wire protocol) may not.
	Sealer Sealer
	// CloseWait bounds how long Close waits for the calls under way; zero
	// means DefaultCloseWait.
	CloseWait time.Duration
	// CallWait bounds a call whose context has no deadline; zero means
	// DefaultCallWait. SuspectWait does while the store is known to be
	// away; zero means DefaultSuspectWait.
	CallWait, SuspectWait time.Duration
}

// Open connects to the event store.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := esdb.ParseConnectionString(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("eventstore: parse connection string: %w", err)
	}
	// The client gives up for good after MaxDiscoverAttempts failed
	// discoveries in a row (ten, a tenth of a second apart, by default:
	// an outage of a second) and then refuses every call until the
	// process restarts. Unless the connection string sets a bound it
	// never gives up, so that a node rides out an event store's restart;
	// no call waits for it past its own context (see await).
	lower := strings.ToLower(opts.URL)
	if !strings.Contains(lower, "maxdiscoverattempts=") {
		cfg.MaxDiscoverAttempts = math.MaxInt32
	}
	if !strings.Contains(lower, "discoveryinterval=") {
		cfg.DiscoveryInterval = defaultDiscoveryInterval
	}
	logger := opts.Logger
	quiet := &clientLogLimit{last: map[string]time.Time{}}
	var target atomic.Pointer[Store] // the store the hook below marks suspect
	cfg.Logger = func(level esdb.LogLevel, format string, args ...any) {
		if level != esdb.LogError && level != esdb.LogWarn {
			return
		}
		if st := target.Load(); st != nil {
			// The client's own complaint (a dropped connection, a failed
			// discovery) comes before its callers hear of it.
			st.healthy.Store(false)
		}
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, context.Canceled.Error()) {
			// A subscription its caller ended, as every shutdown does.
			logger.Debug("eventstore client: " + msg)
			return
		}
		if quiet.allow(format, time.Now()) {
			logger.Warn("eventstore client: " + msg)
		}
	}
	c, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("eventstore: new client: %w", err)
	}
	if opts.CloseWait <= 0 {
		opts.CloseWait = DefaultCloseWait
	}
	if opts.CallWait <= 0 {
		opts.CallWait = DefaultCallWait
	}
	if opts.SuspectWait <= 0 {
		opts.SuspectWait = DefaultSuspectWait
	}
	s := &Store{client: c, logger: opts.Logger, now: opts.Now, onAppend: opts.OnAppend, sealer: opts.Sealer,
		closeWait: opts.CloseWait, callWait: opts.CallWait, suspectWait: opts.SuspectWait}
	target.Store(s)
	// Not healthy until a call has reached the store: a first call in
	// place would wait, unbounded, for a store that is not there.
	return s, nil
}

// Client exposes the underlying v4 client, for tests that speak the
// protocol directly. Calls made through it are not ones Close waits for.
func (s *Store) Client() *esdb.Client { return s.client }

// Close waits for the calls under way (up to Options.CloseWait), refuses later
// ones with ErrClosed, and closes the client. A subscription is not a call under way once it
// has started: its context ends it.
func (s *Store) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	locked := make(chan struct{})
	go func() {
		s.calls.Lock()
		s.closed = true
		s.calls.Unlock()
		close(locked)
	}()
	select {
	case <-locked:
		return s.client.Close()
	case <-time.After(s.closeWait):
		s.logger.Warn("eventstore: calls still wait for the event store; its client closes when they end")
		go func() {
			<-locked
			_ = s.client.Close()
		}()
		return nil
	}
}

// defaultDiscoveryInterval is the pause between the client's attempts to
// reach the event store, in milliseconds, when the connection string sets
// none: the client's 100 ms logged ten warnings a second through an
// outage.
const defaultDiscoveryInterval = 500

// clientLogLimit lets one of the client's messages through every
// clientLogEvery, by message: through an outage it repeats one every
// attempt.
type clientLogLimit struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const clientLogEvery = 10 * time.Second

func (l *clientLogLimit) allow(format string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[format]; ok && now.Sub(t) < clientLogEvery {
		return false
	}
	l.last[format] = now
	return true
}

// NewEvent is an event to append.
type NewEvent struct {
	// ID is optional; a repeat of an append with the same ids is idempotent.
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	// Data is marshalled to JSON unless it already is a json.RawMessage.
	Data any
	// Subject is the data subject (the applicant) whose key seals the
	// personal data in Data; required for events that carry any.
	Subject string
}

// Recorded is an event read back.
type Recorded struct {
	Envelope events.Envelope
	Data     json.RawMessage
	Stream   string
	Revision uint64
	Position uint64
	Created  time.Time
	// payload memoises Payload. It is a pointer so that copies of one
	// Recorded (every projection of a rebuild gets one) decode once.
	payload *payloadMemo
}

type payloadMemo struct {
	once sync.Once
	ev   schema.Event
	err  error
}

// Payload decodes Data into its contract type (upcasting older versions),
// once for all copies of this Recorded.
func (r Recorded) Payload() (schema.Event, error) {
	if r.payload == nil {
		return schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
	}
	m := r.payload
	m.once.Do(func() { m.ev, m.err = schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data) })
	return m.ev, m.err
}

// Expected is an optimistic-concurrency condition.
type Expected struct {
	kind int
	rev  uint64
}

var (
	// Any appends whatever the stream's state.
	Any = Expected{kind: 0}
	// NoStream appends only to a stream that does not exist yet.
	NoStream = Expected{kind: 1}
)

// AtRevision appends only if the stream's last revision is rev.
func AtRevision(rev uint64) Expected { return Expected{kind: 2, rev: rev} }

func (e Expected) toESDB() esdb.ExpectedRevision {
	switch e.kind {
	case 1:
		return esdb.NoStream{}
	case 2:
		return esdb.Revision(e.rev)
	default:
		return esdb.Any{}
	}
}

// ErrConflict is wrapped by a ConflictError.
var ErrConflict = errors.New("eventstore: wrong expected revision")

// ConflictError reports a failed expected-revision check and the stream's
// current state, so callers can answer 409 with the current revision.
type ConflictError struct {
	Stream string
	// Current is the stream's last revision; Exists is false for no stream.
	Current uint64
	Exists  bool
}

func (e *ConflictError) Error() string {
	if !e.Exists {
		return fmt.Sprintf("eventstore: stream %s: wrong expected revision (stream does not exist)", e.Stream)
	}
	return fmt.Sprintf("eventstore: stream %s: wrong expected revision (current %d)", e.Stream, e.Current)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrDeleted reports a tombstoned stream.
var ErrDeleted = errors.New("eventstore: stream is deleted")

// AppendResult is the stream's last revision and the position of the last
// event written.
type AppendResult struct {
	Revision uint64
	Position uint64
}

// Append writes events with envelopes built from meta.
func (s *Store) Append(ctx context.Context, stream string, exp Expected, meta events.Metadata, evs ...NewEvent) (AppendResult, error) {
	data := make([]esdb.EventData, len(evs))
	now := meta.At.UTC()
	if meta.At.IsZero() {
		now = s.now().UTC()
	}
	for i, e := range evs {
		id := e.ID
		if id == uuid.Nil {
			id = uuid.New()
		}
		payload, ok := e.Data.(json.RawMessage)
		if !ok {
			b, err := json.Marshal(e.Data)
			if err != nil {
				return AppendResult{}, fmt.Errorf("eventstore: marshal %s: %w", e.Type, err)
			}
			payload = b
		}
		if s.sealer != nil {
			sealedPayload, err := s.sealer.Seal(ctx, e.Subject, e.Type, payload)
			if err != nil {
				return AppendResult{}, fmt.Errorf("eventstore: seal %s: %w", e.Type, err)
			}
			payload = sealedPayload
		}
		version := e.SchemaVersion
		if version == 0 {
			version = 1
		}
		env, err := json.Marshal(events.Envelope{
			EventID: id.String(), Type: e.Type, SchemaVersion: version,
			CorrelationID: meta.CorrelationID, CausationID: meta.CausationID, CommandID: meta.CommandID,
			Actor: meta.Actor, OnBehalfOf: meta.OnBehalfOf, OccurredAt: now,
		})
		if err != nil {
			return AppendResult{}, fmt.Errorf("eventstore: marshal envelope: %w", err)
		}
		data[i] = esdb.EventData{EventID: id, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: payload, Metadata: env}
	}
	h, err := s.hold()
	if err != nil {
		return AppendResult{}, err
	}
	defer h.release()
	start := time.Now()
	res, err := await(ctx, h, func() (*esdb.WriteResult, error) {
		return s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp.toESDB()}, data...)
	}, nil)
	if s.onAppend != nil {
		s.onAppend(time.Since(start), err)
	}
	if err != nil {
		var e *esdb.Error
		if errors.As(err, &e) {
			switch e.Code() {
			case esdb.ErrorCodeWrongExpectedVersion:
				return AppendResult{}, s.conflict(ctx, h, stream)
			case esdb.ErrorCodeStreamDeleted:
				return AppendResult{}, fmt.Errorf("%w: %s", ErrDeleted, stream)
			}
		}
		return AppendResult{}, fmt.Errorf("eventstore: append to %s: %w", stream, err)
	}
	return AppendResult{Revision: res.NextExpectedVersion, Position: res.CommitPosition}, nil
}

// conflict reads the stream's current revision for a ConflictError; the v4
// client only reports it inside an error string.
func (s *Store) conflict(ctx context.Context, h *hold, stream string) error {
	ce := &ConflictError{Stream: stream}
	last, err := await(ctx, h, func() (*esdb.RecordedEvent, error) {
		return s.readLast(ctx, stream)
	}, nil)
	if err == nil && last != nil {
		ce.Current, ce.Exists = last.EventNumber, true
	}
	return ce
}

// readLast reads a stream's last event (nil when there is none), within
// an await.
func (s *Store) readLast(ctx context.Context, stream string) (*esdb.RecordedEvent, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	e, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		var ee *esdb.Error
		if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound {
			return nil, nil
		}
		return nil, err
	}
	return e.OriginalEvent(), nil
}

// Load reads a whole stream. A stream that does not exist is empty, not an
// error: for an aggregate that means "new".
func (s *Store) Load(ctx context.Context, stream string) ([]Recorded, error) {
	return s.LoadFrom(ctx, stream, 0, ^uint64(0))
}

// LoadFrom reads up to count events of a stream starting at revision from.
func (s *Store) LoadFrom(ctx context.Context, stream string, from, count uint64) ([]Recorded, error) {
	h, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer h.release()
	raw, err := await(ctx, h, func() ([]*esdb.RecordedEvent, error) {
		return s.readStream(ctx, stream, from, count)
	}, nil)
	if errors.Is(err, ErrDeleted) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: read %s: %w", stream, err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]Recorded, 0, len(raw))
	for _, e := range raw {
		r, err := s.decode(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// readStream reads up to count events of a stream from revision from,
// within an await; none for a stream that does not exist.
func (s *Store) readStream(ctx context.Context, stream string, from, count uint64) ([]*esdb.RecordedEvent, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(from)}, count)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var ee *esdb.Error
			if errors.As(err, &ee) {
				switch ee.Code() {
				case esdb.ErrorCodeResourceNotFound:
					return nil, nil
				case esdb.ErrorCodeStreamDeleted:
					return nil, fmt.Errorf("%w: %s", ErrDeleted, stream)
				}
			}
			return nil, err
		}
		out = append(out, e.OriginalEvent())
	}
}

// Decode turns a recorded event into a Recorded. Events written by other
// tools without an envelope still decode, with the envelope's type and id
// filled from the event itself.
func Decode(e *esdb.RecordedEvent) (Recorded, error) {
	r := Recorded{Data: e.Data, Stream: e.StreamID, Revision: e.EventNumber, Position: e.Position.Commit, Created: e.CreatedDate, payload: &payloadMemo{}}
	if len(e.UserMetadata) > 0 {
		if err := storedjson.Unmarshal(e.UserMetadata, &r.Envelope); err != nil {
			return Recorded{}, fmt.Errorf("eventstore: %s@%d: bad envelope: %w", e.StreamID, e.EventNumber, err)
		}
	}
	if r.Envelope.Type == "" {
		r.Envelope.Type = e.EventType
	}
	if r.Envelope.EventID == "" {
		r.Envelope.EventID = e.EventID.String()
	}
	if r.Envelope.SchemaVersion == 0 {
		r.Envelope.SchemaVersion = 1
	}
	if r.Envelope.OccurredAt.IsZero() {
		r.Envelope.OccurredAt = e.CreatedDate
	}
	return r, nil
}

// CatchUp reads $all (non-system events) after position after (exclusive;
// nil for the beginning) until it reaches the end as of now, calling fn for
// each event in order. Rebuilds use it: one streaming read, no per-event
// acknowledgement.
func (s *Store) CatchUp(ctx context.Context, after *uint64, fn func(Recorded) error) error {
	o := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()}
	if after != nil {
		o.From = esdb.Position{Commit: *after, Prepare: *after}
	}
	return s.catchUp(ctx, o, fn)
}

// CatchUpTypes reads $all after position after (exclusive; nil for the
// beginning) as CatchUp does, but only the events of the given types,
// which the server picks out: the rest is neither sent nor decoded. From
// the beginning it is a scan of the whole log all the same, for a rare
// question no read model answers. It ends on the server's caught-up
// message, which EventStoreDB sends since 23.10.
func (s *Store) CatchUpTypes(ctx context.Context, after *uint64, types []string, fn func(Recorded) error) error {
	if len(types) == 0 {
		return errors.New("eventstore: catch up: no event types")
	}
	// The server matches prefixes; an exact type is checked here. Its
	// default window (32 events read per checkpoint sent) makes a
	// KurrentDB node page through the log in tiny steps.
	o := esdb.SubscribeToAllOptions{From: esdb.Start{}, MaxSearchWindow: typeScanWindow, CheckpointInterval: 1,
		Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: types}}
	if after != nil {
		o.From = esdb.Position{Commit: *after, Prepare: *after}
	}
	return s.catchUp(ctx, o, func(r Recorded) error {
		if !slices.Contains(types, r.Envelope.Type) {
			return nil
		}
		return fn(r)
	})
}

// typeScanWindow is how many events CatchUpTypes lets the server search
// between checkpoints.
const typeScanWindow = 4096

func (s *Store) catchUp(ctx context.Context, o esdb.SubscribeToAllOptions, fn func(Recorded) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.subscribe(ctx, o)
	if err != nil {
		return fmt.Errorf("eventstore: catch up: %w", err)
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			if err := ctx.Err(); errors.Is(err, context.Canceled) {
				// The caller's own end says nothing of the store: taken
				// for an answer, it marked a store known away healthy
				// (review), which a call waiting on it never does.
				return fmt.Errorf("eventstore: catch up: %w", err)
			}
			// A store gone in the middle of a catch-up (an erasure's
			// scan of the log) is unavailable, as for any other call.
			s.observe(ev.SubscriptionDropped.Error)
			return fmt.Errorf("eventstore: catch up: %w", unanswered(ev.SubscriptionDropped.Error))
		case ev.CaughtUp != nil:
			return nil
		case ev.EventAppeared != nil:
			r, err := s.decode(ctx, ev.EventAppeared.OriginalEvent())
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
}

// Head is the position of the last non-system event in $all (0 for an
// empty store): the position projections reach when they are caught up.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	pos, _, _, err := s.HeadTime(ctx)
	return pos, err
}

// CountAfter counts non-system events after position from up to and
// including head, stopping at limit; for lag reporting.
func (s *Store) CountAfter(ctx context.Context, from, head uint64, limit uint64) (uint64, error) {
	h, err := s.hold()
	if err != nil {
		return 0, err
	}
	defer h.release()
	n, err := await(ctx, h, func() (uint64, error) {
		var n uint64
		err := s.scanAll(ctx, esdb.ReadAllOptions{From: esdb.Position{Commit: from + 1, Prepare: from + 1}}, limit, func(o *esdb.RecordedEvent) bool {
			if o.Position.Commit > head {
				return false
			}
			if len(o.EventType) > 0 && o.EventType[0] != '$' {
				n++
			}
			return true
		})
		return n, err
	}, nil)
	if err != nil {
		return n, fmt.Errorf("eventstore: count: %w", err)
	}
	return n, nil
}

// HeadTime is the position and write time of the last non-system event in
// $all; ok is false for an empty store.
func (s *Store) HeadTime(ctx context.Context) (pos uint64, created time.Time, ok bool, err error) {
	h, err := s.hold()
	if err != nil {
		return 0, time.Time{}, false, err
	}
	defer h.release()
	last, err := await(ctx, h, func() (*esdb.RecordedEvent, error) {
		var last *esdb.RecordedEvent
		err := s.scanAll(ctx, esdb.ReadAllOptions{From: esdb.End{}, Direction: esdb.Backwards}, 64, func(o *esdb.RecordedEvent) bool {
			if len(o.EventType) > 0 && o.EventType[0] != '$' {
				last = o
				return false
			}
			return true
		})
		return last, err
	}, nil)
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("eventstore: head: %w", err)
	}
	if last == nil {
		return 0, time.Time{}, false, nil
	}
	return last.Position.Commit, last.CreatedDate, true, nil
}

// scanAll reads up to count events of $all as o says, handing each to
// fn until it returns false; within an await.
func (s *Store) scanAll(ctx context.Context, o esdb.ReadAllOptions, count uint64, fn func(*esdb.RecordedEvent) bool) error {
	rs, err := s.client.ReadAll(ctx, o, count)
	if err != nil {
		return err
	}
	defer rs.Close()
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fn(e.OriginalEvent()) {
			return nil
		}
	}
}

// LoadLast reads a stream's last event; nil when the stream does not exist.
func (s *Store) LoadLast(ctx context.Context, stream string) (*Recorded, error) {
	h, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer h.release()
	last, err := await(ctx, h, func() (*esdb.RecordedEvent, error) { return s.readLast(ctx, stream) }, nil)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read %s: %w", stream, err)
	}
	if last == nil {
		return nil, nil
	}
	r, err := s.decode(ctx, last)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// decode is Decode plus opening the sealed personal data.
func (s *Store) decode(ctx context.Context, e *esdb.RecordedEvent) (Recorded, error) {
	r, err := Decode(e)
	if err != nil {
		return Recorded{}, err
	}
	if r.Data, err = s.open(ctx, r.Envelope.Type, r.Data); err != nil {
		return Recorded{}, fmt.Errorf("eventstore: %s@%d: %w", r.Stream, r.Revision, err)
	}
	return r, nil
}

func (s *Store) open(ctx context.Context, eventType string, data []byte) ([]byte, error) {
	if s.sealer == nil {
		return data, nil
	}
	return s.sealer.Open(ctx, eventType, data)
}
