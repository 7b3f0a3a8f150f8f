package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"

	gojson "github.com/goccy/go-json"

	"github.com/omsonline/oms/projections/readstore"
)

// entry is one document as the runner holds it in memory: the projection's
// own Go value, encoded to JSON only when flushed. Keeping values decoded
// is what makes a projection cheap per event: a document touched by many
// events of a batch is decoded at most once and encoded once.
type entry struct {
	val   any // nil: the document does not exist (deleted or never written)
	pos   uint64
	queue *readstore.QueueFields
	coll  string // physical collection
	id    string
	// loaded marks an entry read from the store, which no batch holds.
	loaded bool
	// cost is what the entry counts for in the cache's budget.
	cost int64
}

// Tx is a projection's view of its documents while it applies one event:
// reads see the unflushed batch, then the cache of flushed values, then the
// store; writes go into the batch.
//
// Values handed out by GetJSON may share memory (slices, pointers) with what
// the runner holds, so projections must treat them as immutable: build new
// slices and structs rather than change elements in place.
type Tx struct {
	st  *state
	ctx context.Context
	pos uint64
	// first is true for an event applied for the first time on a store
	// that flushes atomically (see FirstApply); starts adds that it is
	// its stream's first event (see StartsStream).
	first, starts bool
	// parked is set for the replay of a parked message (see ParkedReplay).
	parked bool
	undo   []undo
	added  []key
}

type undo struct {
	k    key
	prev *entry // nil: the key was not in the batch
}

// Position is the $all position of the event being applied.
func (tx *Tx) Position() uint64 { return tx.pos }

// StartsStream reports that the event is the first of its stream and that
// no earlier apply of it can have reached a document: it lies past the
// checkpoint, it is not a replay of a parked message, and the store
// flushes documents and checkpoint atomically (on MongoDB a crash between
// the two leaves documents ahead of the checkpoint, so there this is
// always false). A document that only its stream's events write, keyed by
// the stream, therefore does not exist yet, and a projection may build it
// without asking the store: on a live system every new application would
// otherwise cost each projection a read that finds nothing.
func (tx *Tx) StartsStream() bool { return tx.starts }

// ParkedReplay reports that the event is a parked message replayed
// (Runner.ReplayParked): it lands after events that came later in $all,
// which a projection that orders its writes by position must allow for.
func (tx *Tx) ParkedReplay() bool { return tx.parked }

// FirstApply reports that no earlier apply of this event can have reached
// a document: it lies past the checkpoint, it is not a replay of a parked
// message, and the store flushes documents and checkpoint atomically (so
// false on MongoDB). A document that only this event writes, keyed by the
// event (an audit entry by its revision), does not exist yet, and the
// projection need not ask the store: on a live system that read found
// nothing for every event.
func (tx *Tx) FirstApply() bool { return tx.first }

// Unwritten tells the runner what the projection knows from its domain: no
// event before this one wrote the document (a scan's index entry, say,
// before the scan's upload, whose id is new). When no earlier apply of
// this event can have written it either (FirstApply), the store cannot
// hold it, and the runner notes it as absent: a later event's lookup finds
// the note instead of asking the store, until the document is written (a
// write takes the note back), the notes are dropped (DropCaches), or newer
// notes push it out (maxAbsentNotes). Anywhere else, or when the runner
// already knows the document, it does nothing.
func (tx *Tx) Unwritten(coll, id string) error {
	if _, ok := tx.st.phys[coll]; !ok {
		return fmt.Errorf("runner: %s does not own collection %q", tx.st.p.Name(), coll)
	}
	// A rebuild knows what it never wrote without the note (complete, then
	// written).
	if !tx.first || tx.st.trackWritten {
		return nil
	}
	k := key{coll, id}
	if _, ok := tx.st.batch[k]; ok {
		return nil
	}
	if j := tx.st.inflight; j != nil {
		if _, ok := j.docs[k]; ok {
			return nil
		}
	}
	if tx.st.cache != nil && tx.st.cache.has(k) {
		return nil
	}
	tx.st.absent.add(k)
	return nil
}

// lookup finds a document's current entry; nil means it does not exist.
func (tx *Tx) lookup(coll, id string) (*entry, error) {
	k := key{coll, id}
	if e, ok := tx.st.batch[k]; ok {
		return e, nil
	}
	uncached := tx.st.uncached[coll]
	if !uncached && tx.st.cache != nil {
		if e, ok := tx.st.cache.get(k); ok {
			return e, nil
		}
	}
	phys, ok := tx.st.phys[coll]
	if !ok {
		return nil, fmt.Errorf("runner: %s does not own collection %q", tx.st.p.Name(), coll)
	}
	// What a fresh rebuild knows of the documents it wrote: the cached
	// ones are all in the cache until the first eviction, and then in
	// written; the uncached ones are in writtenUncached from the start.
	if uncached {
		if w := tx.st.writtenUncached; w != nil {
			if _, maybe := w[k.hash()]; !maybe {
				return nil, nil // a fresh rebuild never wrote it
			}
		}
	} else {
		if tx.st.complete {
			return nil, nil // a fresh rebuild holds every document it wrote
		}
		if w := tx.st.written; w != nil {
			if _, maybe := w[k.hash()]; !maybe {
				return nil, nil // a fresh rebuild never wrote it
			}
		}
	}
	// A document of the batch on its way to the store is read from that
	// batch; any other is in the store already (one flush at a time).
	if j := tx.st.inflight; j != nil {
		if e, ok := j.docs[k]; ok {
			return e, nil
		}
	}
	if tx.st.absent.has(k) {
		return nil, nil // never written (see Unwritten)
	}
	d, err := tx.st.r.opts.Store.GetPhysical(tx.ctx, phys, id)
	if errors.Is(err, readstore.ErrNotFound) {
		tx.st.remember(k, &entry{coll: phys, id: id})
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &entry{val: json.RawMessage(d.Body), pos: d.Position, queue: d.Queue, coll: phys, id: id, loaded: true}
	tx.st.remember(k, e)
	return e, nil
}

// Get reads a document of a logical collection. ok is false if it does not
// exist (or was deleted in this batch).
func (tx *Tx) Get(coll, id string) (readstore.Doc, bool, error) {
	e, err := tx.lookup(coll, id)
	if err != nil || e == nil || e.val == nil {
		return readstore.Doc{}, false, err
	}
	body, err := encode(e.val)
	if err != nil {
		return readstore.Doc{}, false, err
	}
	return readstore.Doc{ID: id, Position: e.pos, Body: body, Queue: e.queue}, true, nil
}

// GetJSON reads a document into v (a pointer). It reports whether the
// document exists and whether this event is new to it (false on a replay).
// fresh compares positions, which is right for a document one stream
// writes. Of a document several streams write (a person's cabinet) it
// says nothing: a parked event replayed after another stream's moved the
// document on is new to it all the same, so such a projection judges by
// what the document records of each stream, or applies idempotently.
func (tx *Tx) GetJSON(coll, id string, v any) (exists, fresh bool, err error) {
	e, err := tx.lookup(coll, id)
	if err != nil || e == nil || e.val == nil {
		return false, true, err
	}
	dst := reflect.ValueOf(v)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return false, false, fmt.Errorf("runner: GetJSON needs a non-nil pointer, got %T", v)
	}
	src, want := reflect.ValueOf(e.val), dst.Elem().Type()
	switch {
	case src.Type() == want:
		dst.Elem().Set(src)
	case src.Kind() == reflect.Pointer && src.Type().Elem() == want && !src.IsNil():
		// Put as a pointer, read as a value: a copy (shallow, which the
		// immutability rule above makes safe).
		dst.Elem().Set(src.Elem())
	default:
		raw, err := encode(e.val)
		if err != nil {
			return false, false, err
		}
		if err := gojson.Unmarshal(raw, v); err != nil {
			return true, false, fmt.Errorf("runner: decode %s/%s: %w", coll, id, err)
		}
		// Keep the decoded value, so the next read of this document is
		// free, but only in an entry read from the store: such an entry is
		// in no batch, while one a projection put may be in the batch an
		// asynchronous flush is encoding right now, without the lock.
		if e.loaded {
			e.val = dst.Elem().Interface()
		}
	}
	return true, e.pos < tx.pos, nil
}

// Put stores a document (body is kept as is and encoded to JSON at flush),
// stamped with the event's position.
func (tx *Tx) Put(coll, id string, body any, queue *readstore.QueueFields) error {
	if body == nil {
		return fmt.Errorf("runner: put %s/%s: nil body", coll, id)
	}
	return tx.write(coll, id, &entry{val: body, pos: tx.pos, queue: queue})
}

// Delete removes a document.
func (tx *Tx) Delete(coll, id string) error {
	return tx.write(coll, id, &entry{pos: tx.pos})
}

func (tx *Tx) write(coll, id string, e *entry) error {
	phys, ok := tx.st.phys[coll]
	if !ok {
		return fmt.Errorf("runner: %s does not own collection %q", tx.st.p.Name(), coll)
	}
	e.coll, e.id = phys, id
	k := key{coll, id}
	tx.st.absent.remove(k)
	if tx.st.batch == nil {
		tx.st.batch = map[key]*entry{}
	}
	prev, existed := tx.st.batch[k]
	tx.undo = append(tx.undo, undo{k: k, prev: prev})
	if !existed {
		tx.added = append(tx.added, k)
	}
	tx.st.batch[k] = e
	return nil
}

func (tx *Tx) commit() {
	tx.st.order = append(tx.st.order, tx.added...)
}

func (tx *Tx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		u := tx.undo[i]
		if u.prev == nil {
			delete(tx.st.batch, u.k)
		} else {
			tx.st.batch[u.k] = u.prev
		}
	}
}

func encode(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := gojson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("runner: encode: %w", err)
	}
	return b, nil
}

// remember caches a clean document, evicting the least recently used ones
// past the budget.
func (st *state) remember(k key, e *entry) {
	if st.uncached[k.coll] {
		if st.writtenUncached != nil {
			st.writtenUncached[k.hash()] = struct{}{}
		}
		return
	}
	if st.cache == nil {
		st.cache = newDocCache(st.cacheBytes)
	}
	// Every entry costs its bookkeeping and key besides the document.
	cost := int64(entryOverhead + len(k.id))
	switch v := e.val.(type) {
	case nil:
	case json.RawMessage:
		cost += int64(len(v)) // read from the store
	default:
		cost += st.sizes.of(k.coll)
	}
	st.cache.put(k, e, cost, st.evicted)
	if st.written != nil {
		st.written[k.hash()] = struct{}{}
	}
}

// evicted notes that the cache no longer holds every document: misses
// must ask the store again, unless the key is known never to have been
// written (written).
func (st *state) evicted(k key) {
	if !st.complete {
		return
	}
	st.complete = false
	if st.trackWritten {
		st.written = make(map[uint64]struct{}, 4*st.cache.len())
		for _, c := range st.cache.keys() {
			st.written[c.hash()] = struct{}{}
		}
		st.written[k.hash()] = struct{}{}
	}
}

// hash is a 64-bit digest of the key for the written set: a collision only
// costs a store read that finds nothing.
func (k key) hash() uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.coll))
	h.Write([]byte{0})
	h.Write([]byte(k.id))
	return h.Sum64()
}
