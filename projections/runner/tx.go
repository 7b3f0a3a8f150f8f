package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/omsonline/oms/projections/readstore"
)

// Tx is a projection's view of its documents while it applies one event:
// reads see the unflushed batch first, writes go into the batch.
type Tx struct {
	st    *state
	ctx   context.Context
	pos   uint64
	undo  []undo
	added []key
}

type undo struct {
	k    key
	prev *readstore.Write // nil: the key was not in the batch
}

// Position is the $all position of the event being applied.
func (tx *Tx) Position() uint64 { return tx.pos }

// Get reads a document of a logical collection. ok is false if it does not
// exist (or was deleted in this batch).
func (tx *Tx) Get(coll, id string) (readstore.Doc, bool, error) {
	k := key{coll, id}
	if w, ok := tx.st.batch[k]; ok {
		if w.Delete {
			return readstore.Doc{}, false, nil
		}
		return w.Doc, true, nil
	}
	phys, ok := tx.st.phys[coll]
	if !ok {
		return readstore.Doc{}, false, fmt.Errorf("runner: %s does not own collection %q", tx.st.p.Name(), coll)
	}
	d, err := tx.st.r.opts.Store.GetPhysical(tx.ctx, phys, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return readstore.Doc{}, false, nil
	}
	if err != nil {
		return readstore.Doc{}, false, err
	}
	return d, true, nil
}

// GetJSON reads a document into v. It reports whether the document exists
// and whether this event is new to it (false on a replay).
func (tx *Tx) GetJSON(coll, id string, v any) (exists, fresh bool, err error) {
	d, ok, err := tx.Get(coll, id)
	if err != nil || !ok {
		return false, true, err
	}
	if err := json.Unmarshal(d.Body, v); err != nil {
		return true, false, fmt.Errorf("runner: decode %s/%s: %w", coll, id, err)
	}
	return true, d.Position < tx.pos, nil
}

// Put stores a document, stamped with the event's position.
func (tx *Tx) Put(coll, id string, body any, queue *readstore.QueueFields) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("runner: encode %s/%s: %w", coll, id, err)
	}
	return tx.write(coll, readstore.Write{Doc: readstore.Doc{ID: id, Position: tx.pos, Body: raw, Queue: queue}})
}

// Delete removes a document.
func (tx *Tx) Delete(coll, id string) error {
	return tx.write(coll, readstore.Write{Doc: readstore.Doc{ID: id, Position: tx.pos}, Delete: true})
}

func (tx *Tx) write(coll string, w readstore.Write) error {
	phys, ok := tx.st.phys[coll]
	if !ok {
		return fmt.Errorf("runner: %s does not own collection %q", tx.st.p.Name(), coll)
	}
	w.Collection = phys
	k := key{coll, w.Doc.ID}
	if tx.st.batch == nil {
		tx.st.batch = map[key]*readstore.Write{}
	}
	prev, existed := tx.st.batch[k]
	if existed {
		cp := *prev
		tx.undo = append(tx.undo, undo{k: k, prev: &cp})
		*prev = w
		return nil
	}
	tx.undo = append(tx.undo, undo{k: k})
	tx.added = append(tx.added, k)
	tx.st.batch[k] = &w
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
			*tx.st.batch[u.k] = *u.prev
		}
	}
}
