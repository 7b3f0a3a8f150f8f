// Package streamdb gives the embedded event store EventStoreDB's stream
// semantics on top of the durable log: revisions, expected-revision checks,
// idempotent re-appends, stream metadata ($$ metastreams with $maxCount,
// $maxAge and $tb), soft delete and tombstones, and reads of streams and $all.
//
// The per-stream index lives in memory and is rebuilt from the log at start:
// 24 bytes per event (position and event id, the id for idempotency checks).
// $all needs no index of its own but a sparse one: the position of every
// allMarkEvery-th record, from which a seek scans the log forward.
// Readers only ever see records below the log's durable end, so nothing that
// was not acknowledged is observable, even while later appends wait for their
// fsync.
package streamdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/omsonline/oms/events/esdbserver/eventlog"
)

// Errors a caller maps onto the protocol.
var (
	ErrStreamNotFound = errors.New("streamdb: stream not found")
	ErrStreamDeleted  = errors.New("streamdb: stream deleted")
	ErrInvalid        = errors.New("streamdb: invalid request")
)

// ExpectedKind is the kind of expected-revision check of a write.
type ExpectedKind int

const (
	ExpectAny ExpectedKind = iota
	ExpectNoStream
	ExpectStreamExists
	ExpectRevision
)

// Expected is the optimistic-concurrency condition of a write.
type Expected struct {
	Kind     ExpectedKind
	Revision uint64
}

// WrongExpectedVersion reports a failed expected-revision check.
type WrongExpectedVersion struct {
	Expected Expected
	// Current is the stream's last revision; NoStream is set when the stream
	// has no events (or was soft-deleted).
	Current  uint64
	NoStream bool
}

func (e *WrongExpectedVersion) Error() string {
	cur := "no stream"
	if !e.NoStream {
		cur = fmt.Sprint(e.Current)
	}
	return fmt.Sprintf("streamdb: wrong expected version (current: %s)", cur)
}

// Proposed is an event to write.
type Proposed struct {
	ID          [16]byte
	Type        string
	ContentType string
	Metadata    []byte
	Data        []byte
}

// WriteResult is what a successful write reports.
type WriteResult struct {
	// Revision is the stream's last revision after the write.
	Revision uint64
	// Position is the position of the last record written.
	Position uint64
}

type entry struct {
	pos uint64
	id  [16]byte
}

type stream struct {
	entries    []entry // index is the revision
	tombstoned bool
	// meta is nil for the many streams without metadata: inline it made
	// every stream 64 bytes instead of 40.
	meta *streamMeta
}

// metadata returns the stream's enforced metadata, zero when it has none.
func (s *stream) metadata() streamMeta {
	if s.meta == nil {
		return streamMeta{}
	}
	return *s.meta
}

// streamMeta is the part of a stream's metadata that the server enforces.
type streamMeta struct {
	raw      map[string]any
	maxCount uint64 // 0: unlimited
	maxAge   time.Duration
	tb       uint64 // truncate before; math.MaxInt64 marks a soft delete
}

const softDeleted = uint64(math.MaxInt64)

func (s *stream) exists() bool {
	return s != nil && len(s.entries) > 0 && s.metadata().tb != softDeleted
}

// Options configure a DB.
type Options struct {
	Dir    string
	NoSync bool
	// SyncDelay slows every write down like a slow disk; tests only (see
	// eventlog.Options).
	SyncDelay time.Duration
	Logger    *slog.Logger
	// Now is the clock, for $maxAge and created stamps; defaults to time.Now.
	Now func() time.Time
}

// DB is the stream database.
type DB struct {
	log    *eventlog.Log
	logger *slog.Logger
	now    func() time.Time

	mu      sync.RWMutex
	streams map[string]*stream
	slab    slab // where the streams and their names live
	// marks holds the position of every allMarkEvery-th record in log
	// order, pending ones included; records counts them all. A position
	// per record was 8 bytes an event, a tenth of omsd's live heap after
	// 1M events.
	marks   []uint64
	records uint64
}

// allMarkEvery spaces the $all marks: a seek reads at most this many
// records from the log (application events of about a kilobyte make that
// tens of kilobytes; it is bounded by 64 of eventlog.MaxRecordSize), once
// per subscription or $all read.
const allMarkEvery = 64

// Open opens the log and rebuilds the index.
func Open(opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l, rec, err := eventlog.Open(eventlog.Options{Dir: opts.Dir, NoSync: opts.NoSync, SyncDelay: opts.SyncDelay, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	db := &DB{log: l, logger: opts.Logger, now: opts.Now, streams: make(map[string]*stream)}
	start := time.Now()
	sc := l.Scan(eventlog.FirstPosition(), rec.End)
	var e Event
	for {
		pos, body, ok := sc.Next()
		if !ok {
			break
		}
		if err := decode(body, pos, &e, false); err != nil {
			l.Close()
			return nil, err
		}
		if err := db.index(&e); err != nil {
			l.Close()
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		l.Close()
		return nil, fmt.Errorf("streamdb: rebuild index: %w", err)
	}
	opts.Logger.Info("event store index rebuilt", "events", db.records, "streams", len(db.streams), "took", time.Since(start).Round(time.Millisecond))
	return db, nil
}

// Close closes the log after queued writes finish.
func (db *DB) Close() error { return db.log.Close() }

// Syncs is the number of fdatasyncs so far.
func (db *DB) Syncs() uint64 { return db.log.Syncs() }

// index applies one record to the in-memory index. Called under mu (or
// before the DB is shared).
func (db *DB) index(e *Event) error {
	if db.records%allMarkEvery == 0 {
		db.marks = append(db.marks, e.Position)
	}
	db.records++
	s := db.streams[e.Stream]
	if s == nil {
		s = db.slab.stream()
		db.streams[db.slab.name(e.Stream)] = s
	}
	if e.Revision == TombstoneRevision && e.Type == "$streamDeleted" {
		s.tombstoned = true
		return nil
	}
	if e.Revision != uint64(len(s.entries)) {
		return fmt.Errorf("streamdb: record at %d: stream %q revision %d, expected %d", e.Position, e.Stream, e.Revision, len(s.entries))
	}
	s.entries = append(s.entries, entry{pos: e.Position, id: e.ID})
	if target, ok := strings.CutPrefix(e.Stream, "$$"); ok && e.Type == "$metadata" {
		t := db.streams[target]
		if t == nil {
			t = db.slab.stream()
			db.streams[db.slab.name(target)] = t
		}
		m := parseMeta(e.Data)
		t.meta = &m
	}
	return nil
}

func parseMeta(data []byte) streamMeta {
	var m streamMeta
	if err := json.Unmarshal(data, &m.raw); err != nil {
		return m
	}
	num := func(k string) uint64 {
		f, ok := m.raw[k].(float64)
		if !ok || f < 0 {
			return 0
		}
		if f >= math.MaxInt64 {
			return math.MaxInt64
		}
		return uint64(f)
	}
	m.maxCount = num("$maxCount")
	// A huge $maxAge (any client may write one) means "for ever", not a
	// duration that overflowed to a negative one.
	m.maxAge = time.Duration(min(num("$maxAge"), uint64(math.MaxInt64/int64(time.Second)))) * time.Second
	m.tb = num("$tb")
	return m
}

// lastRevision returns the stream's last revision for expected-version checks.
func (s *stream) lastRevision() (uint64, bool) {
	if s == nil || len(s.entries) == 0 {
		return 0, false
	}
	return uint64(len(s.entries) - 1), true
}

// check applies an expected-revision condition. It returns done=true with a
// result when the write is an idempotent repeat of one already stored.
func (db *DB) check(name string, s *stream, exp Expected, events []Proposed) (res WriteResult, done bool, err error) {
	if s != nil && s.tombstoned {
		return res, false, ErrStreamDeleted
	}
	last, has := s.lastRevision()
	deleted := has && s.metadata().tb == softDeleted
	wrong := func() error {
		return &WrongExpectedVersion{Expected: exp, Current: last, NoStream: !has || deleted}
	}
	// Idempotency: a repeat of a write whose event ids already follow the
	// point it expected is answered with the original result.
	if has && len(events) > 0 {
		from := int64(-2) // -2: no candidate
		switch exp.Kind {
		case ExpectNoStream:
			from = -1
		case ExpectRevision:
			from = int64(exp.Revision)
		case ExpectAny, ExpectStreamExists:
			// Bounded like EventStoreDB's cache of recent event ids.
			for i := len(s.entries) - 1; i >= 0 && i >= len(s.entries)-64; i-- {
				if s.entries[i].id == events[0].ID {
					from = int64(i) - 1
					break
				}
			}
		}
		if from >= -1 {
			if r, ok, partial := matchIDs(s, from, events); ok {
				return r, true, nil
			} else if partial {
				return res, false, wrong()
			}
		}
	}
	switch exp.Kind {
	case ExpectAny:
		return res, false, nil
	case ExpectNoStream:
		if has && !deleted {
			return res, false, wrong()
		}
	case ExpectStreamExists:
		if !has || deleted {
			return res, false, wrong()
		}
	case ExpectRevision:
		if !has || exp.Revision != last {
			return res, false, wrong()
		}
	}
	return res, false, nil
}

// matchIDs reports whether events already sit right after revision from.
func matchIDs(s *stream, from int64, events []Proposed) (WriteResult, bool, bool) {
	start := from + 1
	if start < 0 || start >= int64(len(s.entries)) || s.entries[start].id != events[0].ID {
		return WriteResult{}, false, false
	}
	for i := range events {
		r := start + int64(i)
		if r >= int64(len(s.entries)) || s.entries[r].id != events[i].ID {
			return WriteResult{}, false, true
		}
	}
	lastRev := start + int64(len(events)) - 1
	return WriteResult{Revision: uint64(lastRev), Position: s.entries[lastRev].pos}, true, false
}

// Append writes events to a stream under an expected-revision condition and
// returns after they are durable.
func (db *DB) Append(ctx context.Context, name string, exp Expected, events []Proposed) (WriteResult, error) {
	if name == "" {
		return WriteResult{}, fmt.Errorf("%w: empty stream name", ErrInvalid)
	}
	for i := range events {
		if events[i].Type == "" {
			return WriteResult{}, fmt.Errorf("%w: event %d has no type", ErrInvalid, i)
		}
	}
	db.mu.Lock()
	s := db.streams[name]
	res, done, err := db.check(name, s, exp, events)
	if err != nil || done {
		var pos uint64
		if done {
			pos = res.Position
		}
		db.mu.Unlock()
		if done {
			return res, db.waitDurable(ctx, pos)
		}
		return res, err
	}
	if len(events) == 0 {
		// EventStoreDB accepts an empty append as a no-op check.
		last, has := s.lastRevision()
		db.mu.Unlock()
		if !has {
			return WriteResult{Revision: 0, Position: 0}, nil
		}
		return WriteResult{Revision: last}, nil
	}
	created := db.now().UnixNano() / 100
	next := uint64(0)
	if s != nil {
		next = uint64(len(s.entries))
	}
	recs := make([]*Event, 0, len(events)+1)
	for i := range events {
		p := &events[i]
		recs = append(recs, &Event{Stream: name, Revision: next + uint64(i), ID: p.ID, Type: p.Type, ContentType: p.ContentType, Created: created, Metadata: p.Metadata, Data: p.Data})
	}
	if s != nil && s.metadata().tb == softDeleted && len(s.entries) > 0 {
		// Writing to a soft-deleted stream recreates it: the old events stay
		// hidden behind a $tb at the first new revision.
		recs = append(recs, db.metaRecord(name, s.metadata().raw, func(m map[string]any) { m["$tb"] = next }, created))
	}
	res, pending, err := db.enqueue(recs)
	db.mu.Unlock()
	if err != nil {
		return WriteResult{}, err
	}
	if err := pending.Wait(); err != nil {
		return WriteResult{}, fmt.Errorf("streamdb: append not durable: %w", err)
	}
	// Report the last event of the stream itself, not a trailing metadata record.
	res.Revision = next + uint64(len(events)) - 1
	res.Position = recs[len(events)-1].Position
	return res, nil
}

func (db *DB) metaRecord(target string, raw map[string]any, edit func(map[string]any), created int64) *Event {
	m := make(map[string]any, len(raw)+1)
	for k, v := range raw {
		m[k] = v
	}
	edit(m)
	data, _ := json.Marshal(m) // a map of JSON-decoded values always marshals
	ms := db.streams["$$"+target]
	rev := uint64(0)
	if ms != nil {
		rev = uint64(len(ms.entries))
	}
	id := newID()
	return &Event{Stream: "$$" + target, Revision: rev, ID: id, Type: "$metadata", ContentType: "application/json", Created: created, Data: data}
}

// enqueue encodes, assigns positions and indexes recs. Called under mu.
func (db *DB) enqueue(recs []*Event) (WriteResult, eventlog.Pending, error) {
	bodies := make([][]byte, len(recs))
	for i, r := range recs {
		bodies[i] = encode(r)
	}
	positions, pending, err := db.log.Enqueue(bodies)
	if err != nil {
		return WriteResult{}, pending, fmt.Errorf("streamdb: enqueue: %w", err)
	}
	for i, r := range recs {
		r.Position = positions[i]
		if err := db.index(r); err != nil {
			// Cannot happen: revisions were assigned under the same lock.
			return WriteResult{}, pending, err
		}
	}
	last := recs[len(recs)-1]
	return WriteResult{Revision: last.Revision, Position: last.Position}, pending, nil
}

// waitDurable waits until pos is below the durable end, for idempotent
// repeats of writes that may still be in flight.
func (db *DB) waitDurable(ctx context.Context, pos uint64) error {
	for db.log.Durable() <= pos {
		ch := db.log.Changed()
		if db.log.Durable() > pos {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Delete soft-deletes a stream: it reads as not found, and a later write
// recreates it with revisions continuing where they stopped.
func (db *DB) Delete(ctx context.Context, name string, exp Expected) (uint64, error) {
	return db.writeMarker(ctx, name, exp, false)
}

// Tombstone deletes a stream for good: reads and writes fail with
// ErrStreamDeleted from then on.
func (db *DB) Tombstone(ctx context.Context, name string, exp Expected) (uint64, error) {
	return db.writeMarker(ctx, name, exp, true)
}

func (db *DB) writeMarker(ctx context.Context, name string, exp Expected, tombstone bool) (uint64, error) {
	if name == "" {
		return 0, fmt.Errorf("%w: empty stream name", ErrInvalid)
	}
	db.mu.Lock()
	s := db.streams[name]
	if _, _, err := db.check(name, s, exp, nil); err != nil {
		db.mu.Unlock()
		return 0, err
	}
	created := db.now().UnixNano() / 100
	var rec *Event
	if tombstone {
		rec = &Event{Stream: name, Revision: TombstoneRevision, ID: newID(), Type: "$streamDeleted", ContentType: "application/octet-stream", Created: created, Data: []byte{}}
	} else {
		var raw map[string]any
		if s != nil {
			raw = s.metadata().raw
		}
		rec = db.metaRecord(name, raw, func(m map[string]any) { m["$tb"] = softDeleted }, created)
	}
	res, pending, err := db.enqueue([]*Event{rec})
	db.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := pending.Wait(); err != nil {
		return 0, fmt.Errorf("streamdb: delete not durable: %w", err)
	}
	return res.Position, nil
}

// From is where a read starts: Start, End, or a revision/position.
type From struct {
	Start, End bool
	Value      uint64 // revision for streams, position for $all
}

// ReadStream calls fn with up to count events of a stream, forwards from
// (inclusive) or backwards from (inclusive). It reports ErrStreamNotFound or
// ErrStreamDeleted before calling fn.
func (db *DB) ReadStream(name string, from From, backwards bool, count uint64, fn func(*Event) error) error {
	revs, err := db.visible(name)
	if err != nil {
		return err
	}
	return db.emitRevisions(revs, from, backwards, count, fn)
}

// span is the visible part of a stream: revisions [lo, hi) and their positions.
type span struct {
	lo, hi  uint64
	entries []entry // entries[i] is revision i
}

// visible computes what a reader may see of a stream right now. The
// returned entries are a snapshot: the index only ever appends, so the slice
// stays valid after the lock is released.
func (db *DB) visible(name string) (span, error) {
	durable := db.log.Durable()
	db.mu.RLock()
	s := db.streams[name]
	if s != nil && s.tombstoned {
		db.mu.RUnlock()
		return span{}, ErrStreamDeleted
	}
	if s == nil || len(s.entries) == 0 {
		db.mu.RUnlock()
		return span{}, ErrStreamNotFound
	}
	entries := s.entries
	meta := s.metadata()
	db.mu.RUnlock()

	// Only durable records are visible.
	hi := uint64(sort.Search(len(entries), func(i int) bool { return entries[i].pos >= durable }))
	if hi == 0 || meta.tb == softDeleted {
		return span{}, ErrStreamNotFound
	}
	if strings.HasPrefix(name, "$$") && meta.maxCount == 0 {
		// A metastream keeps only its latest event.
		meta.maxCount = 1
	}
	lo := meta.tb
	if meta.maxCount > 0 && hi > meta.maxCount && hi-meta.maxCount > lo {
		lo = hi - meta.maxCount
	}
	if lo > hi {
		lo = hi
	}
	sp := span{lo: lo, hi: hi, entries: entries[:hi]}
	if meta.maxAge > 0 {
		cutoff := db.now().Add(-meta.maxAge).UnixNano() / 100
		sp.lo = db.firstYoungerThan(sp, cutoff)
	}
	return sp, nil
}

func (db *DB) firstYoungerThan(sp span, cutoff int64) uint64 {
	var e Event
	var buf []byte
	i := sort.Search(int(sp.hi-sp.lo), func(i int) bool {
		body, _, err := db.log.ReadAt(sp.entries[sp.lo+uint64(i)].pos, buf)
		if err != nil || decode(body, 0, &e, false) != nil {
			return false
		}
		buf = body
		return e.Created >= cutoff
	})
	return sp.lo + uint64(i)
}

func (db *DB) emitRevisions(sp span, from From, backwards bool, count uint64, fn func(*Event) error) error {
	if sp.lo >= sp.hi || count == 0 {
		return nil
	}
	var buf []byte
	emit := func(rev uint64) error {
		body, _, err := db.log.ReadAt(sp.entries[rev].pos, buf)
		if err != nil {
			return err
		}
		buf = body
		var e Event
		if err := decode(body, sp.entries[rev].pos, &e, false); err != nil {
			return err
		}
		return fn(&e)
	}
	if !backwards {
		start := sp.lo
		if from.End {
			return nil
		}
		if !from.Start && from.Value > start {
			start = from.Value
		}
		for r := start; r < sp.hi && count > 0; r, count = r+1, count-1 {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	}
	start := sp.hi - 1
	if from.Start {
		// Backwards from the start: the first visible event only.
		start = sp.lo
	} else if !from.End && from.Value < start {
		start = from.Value
	}
	if start < sp.lo {
		return nil
	}
	for r := int64(start); r >= int64(sp.lo) && count > 0; r, count = r-1, count-1 {
		if err := emit(uint64(r)); err != nil {
			return err
		}
	}
	return nil
}

// LastRevision returns the last visible revision of a stream, for stream
// subscriptions deciding whether there is more to send.
func (db *DB) LastRevision(name string) (uint64, bool, error) {
	sp, err := db.visible(name)
	if err != nil {
		return 0, false, err
	}
	if sp.hi == 0 {
		return 0, false, nil
	}
	return sp.hi - 1, true, nil
}

// ReadAll calls fn with up to count records of $all. Forwards starts at the
// first record at or after from (inclusive); backwards at the last record
// strictly before from, as EventStoreDB does.
func (db *DB) ReadAll(from From, backwards bool, count uint64, fn func(*Event) error) error {
	durable := db.log.Durable()
	if !backwards {
		if from.End || count == 0 {
			return nil
		}
		pos := eventlog.FirstPosition()
		if !from.Start {
			var err error
			if pos, err = db.seek(from.Value); err != nil {
				return err
			}
		}
		return db.ScanAll(pos, durable, count, fn)
	}
	limit := durable
	if from.Start {
		return nil
	}
	if !from.End {
		limit = min(limit, from.Value)
	}
	marks := db.markedBefore(durable)
	// Block j runs from marks[j] to the next mark; the last one to the
	// durable end. Read backwards block by block from the one that holds
	// the limit.
	j := sort.Search(len(marks), func(i int) bool { return marks[i] >= limit }) - 1
	var block []Event
	for ; j >= 0 && count > 0; j-- {
		end := blockEnd(marks, j, durable)
		// A block is at most allMarkEvery records: kept whole, with their
		// bytes copied out of the scanner's buffer, it is read once.
		block = block[:0]
		if err := db.ScanAll(marks[j], end, ^uint64(0), func(e *Event) error {
			if e.Position < limit {
				c := *e
				c.Metadata, c.Data = bytes.Clone(e.Metadata), bytes.Clone(e.Data)
				c.Next = 0 // set by forward scans only
				block = append(block, c)
			}
			return nil
		}); err != nil {
			return err
		}
		for i := len(block) - 1; i >= 0 && count > 0; i, count = i-1, count-1 {
			if err := fn(&block[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// markedBefore returns the marks of records that start before durable.
// The slice only grows at its end, so the prefix returned stays valid
// after the lock is released.
func (db *DB) markedBefore(durable uint64) []uint64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	n := sort.Search(len(db.marks), func(i int) bool { return db.marks[i] >= durable })
	return db.marks[:n]
}

// seek returns the position of the first durable record at or after pos,
// or the durable end when there is none.
func (db *DB) seek(pos uint64) (uint64, error) {
	durable := db.log.Durable()
	marks := db.markedBefore(durable)
	j := sort.Search(len(marks), func(i int) bool { return marks[i] > pos }) - 1
	if j < 0 {
		// Before the first record (or none is durable yet).
		if len(marks) > 0 {
			return marks[0], nil
		}
		return durable, nil
	}
	end := blockEnd(marks, j, durable)
	found := end
	err := db.ScanAll(marks[j], end, ^uint64(0), func(e *Event) error {
		if e.Position >= pos {
			found = e.Position
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, err
	}
	return found, nil
}

// blockEnd is where the block starting at marks[j] ends: at the next mark,
// or for the last block at the durable end.
func blockEnd(marks []uint64, j int, durable uint64) uint64 {
	if j+1 < len(marks) {
		return marks[j+1]
	}
	return durable
}

// errStopScan ends a scan that has found what it looked for.
var errStopScan = errors.New("streamdb: scan stopped")

// After returns the position of the first record strictly after pos, which
// is where a subscription "from pos" starts.
func (db *DB) After(pos uint64) (uint64, error) {
	if pos == math.MaxUint64 {
		return db.log.Durable(), nil // pos+1 would wrap to the start
	}
	return db.seek(pos + 1)
}

// ScanAll reads $all forwards from a record position up to limit, calling fn
// for at most count records. The Event passed to fn is only valid during the
// call.
func (db *DB) ScanAll(from, limit, count uint64, fn func(*Event) error) error {
	sc := db.log.Scan(from, limit)
	var e Event
	for ; count > 0; count-- {
		pos, body, ok := sc.Next()
		if !ok {
			break
		}
		if err := decode(body, pos, &e, false); err != nil {
			return err
		}
		e.Next = sc.Pos()
		if err := fn(&e); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Durable is the current end of acknowledged records.
func (db *DB) Durable() uint64 { return db.log.Durable() }

// Changed is closed the next time Durable advances.
func (db *DB) Changed() <-chan struct{} { return db.log.Changed() }

// Start is the position of the first record.
func (db *DB) Start() uint64 { return eventlog.FirstPosition() }

// End is the position a subscription "from the end" starts at.
func (db *DB) End() uint64 { return db.log.Durable() }
