package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

// hints remembers where logical names pointed and what kind physical
// collections are, so that a point read can be a single statement. A hint is
// only a guess: every read checks it against the aliases or collections
// table in the same statement, and so in the same snapshot, as the document.
// A stale hint costs one extra lookup, never a wrong answer.
type hints struct {
	mu    sync.RWMutex
	alias map[string]aliasHint
	kind  map[string]readstore.Kind
}

type aliasHint struct {
	physical string
	kind     readstore.Kind
}

func newHints() *hints {
	return &hints{alias: map[string]aliasHint{}, kind: map[string]readstore.Kind{}}
}

func (h *hints) getAlias(logical string) (aliasHint, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	a, ok := h.alias[logical]
	return a, ok
}

func (h *hints) setAlias(logical, physical string, kind readstore.Kind) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.alias[logical] = aliasHint{physical, kind}
	h.kind[physical] = kind
}

func (h *hints) dropAlias(logical string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.alias, logical)
}

func (h *hints) getKind(physical string) (readstore.Kind, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	k, ok := h.kind[physical]
	return k, ok
}

func (h *hints) setKind(physical string, kind readstore.Kind) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kind[physical] = kind
}

// forget drops every hint that mentions a physical collection.
func (h *hints) forget(physical string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.kind, physical)
	for l, a := range h.alias {
		if a.physical == physical {
			delete(h.alias, l)
		}
	}
}

// Get reads a document through its alias in one statement: the alias row
// joined with the document, so the alias is resolved on every read and in
// the same snapshot as the document.
func (s *Store) Get(ctx context.Context, logical, id string) (readstore.Doc, error) {
	if err := storeutil.CheckName(logical); err != nil {
		return readstore.Doc{}, err
	}
	if err := storeutil.CheckID(id); err != nil {
		// No stored document can have this ID.
		return readstore.Doc{}, fmt.Errorf("sqlitestore: %s/%q: %w (%v)", logical, id, readstore.ErrNotFound, err)
	}
	h, ok := s.hints.getAlias(logical)
	if !ok {
		p, k, err := s.resolve(ctx, logical)
		if err != nil {
			return readstore.Doc{}, err
		}
		h = aliasHint{p, k}
	}
	for attempt := 0; ; attempt++ {
		query := `SELECT a.physical, ` + joinedColumns(h.kind) + ` FROM readstore_aliases a
			LEFT JOIN ` + tableName(h.physical) + ` d ON d.id = ? WHERE a.logical = ?`
		current, d, found, err := s.getJoined(ctx, h.physical, h.kind, query, id, logical)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			s.hints.dropAlias(logical)
			return readstore.Doc{}, fmt.Errorf("sqlitestore: logical collection %q: %w", logical, readstore.ErrNoCollection)
		case err == nil && current == h.physical && found:
			return d, nil
		case err == nil && current == h.physical:
			return readstore.Doc{}, fmt.Errorf("sqlitestore: %s/%s: %w", logical, id, readstore.ErrNotFound)
		}
		// The hint was stale: the alias moved, or its table was dropped
		// or recreated as another kind. Look it up and read again.
		p, k, rerr := s.resolve(ctx, logical)
		if rerr != nil {
			return readstore.Doc{}, rerr
		}
		if err != nil && ((p == h.physical && k == h.kind) || attempt >= 3) {
			return readstore.Doc{}, fmt.Errorf("sqlitestore: get %s/%s: %w", logical, id, err)
		}
		if attempt >= 3 {
			return readstore.Doc{}, fmt.Errorf("sqlitestore: get %s/%s: alias keeps moving", logical, id)
		}
		h = aliasHint{p, k}
	}
}

// GetPhysical reads a document from a physical collection, joined with its
// catalog row for the same reason Get joins the alias.
func (s *Store) GetPhysical(ctx context.Context, physical, id string) (readstore.Doc, error) {
	if err := storeutil.CheckName(physical); err != nil {
		return readstore.Doc{}, err
	}
	if err := storeutil.CheckID(id); err != nil {
		return readstore.Doc{}, fmt.Errorf("sqlitestore: %s/%q: %w (%v)", physical, id, readstore.ErrNotFound, err)
	}
	kind, ok := s.hints.getKind(physical)
	if !ok {
		k, err := s.physicalKind(ctx, physical)
		if err != nil {
			return readstore.Doc{}, err
		}
		kind = k
		s.hints.setKind(physical, k)
	}
	for attempt := 0; ; attempt++ {
		query := `SELECT c.kind, ` + joinedColumns(kind) + ` FROM readstore_collections c
			LEFT JOIN ` + tableName(physical) + ` d ON d.id = ? WHERE c.name = ?`
		current, d, found, err := s.getJoined(ctx, physical, kind, query, id, physical)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			s.hints.forget(physical)
			return readstore.Doc{}, fmt.Errorf("sqlitestore: collection %q: %w", physical, readstore.ErrNoCollection)
		case err == nil && current == strconv.Itoa(int(kind)) && found:
			return d, nil
		case err == nil && current == strconv.Itoa(int(kind)):
			return readstore.Doc{}, fmt.Errorf("sqlitestore: %s/%s: %w", physical, id, readstore.ErrNotFound)
		}
		// Dropped, or recreated as another kind, since the hint was taken.
		k, kerr := s.physicalKind(ctx, physical)
		if kerr != nil {
			s.hints.forget(physical)
			return readstore.Doc{}, kerr
		}
		if err != nil && (k == kind || attempt >= 3) {
			return readstore.Doc{}, fmt.Errorf("sqlitestore: get %s/%s: %w", physical, id, err)
		}
		if attempt >= 3 {
			return readstore.Doc{}, fmt.Errorf("sqlitestore: get %s/%s: collection keeps changing", physical, id)
		}
		kind = k
		s.hints.setKind(physical, k)
	}
}

func joinedColumns(kind readstore.Kind) string {
	if kind == readstore.KindQueue {
		return `d.id, d.position, d.body, d.status, d.assignee, d.region, d.deadline, d.waiting`
	}
	return `d.id, d.position, d.body`
}

// getJoined runs a point read joined with one metadata row. head is the
// metadata column as text; found is false when the document is missing.
// sql.ErrNoRows means the metadata row is missing.
func (s *Store) getJoined(ctx context.Context, physical string, kind readstore.Kind, query string, args ...any) (head string, d readstore.Doc, found bool, err error) {
	st, err := s.stmts.acquire(ctx, physical, query)
	if err != nil {
		return "", d, false, err
	}
	defer st.release()
	var (
		id                       sql.NullString
		pos                      sql.NullInt64
		body                     []byte
		status, assignee, region sql.NullString
		deadline                 sql.NullInt64
		waiting                  sql.NullBool
	)
	dest := []any{&head, &id, &pos, &body}
	if kind == readstore.KindQueue {
		dest = append(dest, &status, &assignee, &region, &deadline, &waiting)
	}
	if err := st.QueryRowContext(ctx, args...).Scan(dest...); err != nil {
		return "", d, false, err
	}
	if !id.Valid {
		return head, d, false, nil
	}
	d = readstore.Doc{ID: id.String, Position: storeutil.PositionFromInt(pos.Int64), Body: body}
	if kind == readstore.KindQueue {
		d.Queue = &readstore.QueueFields{
			Status:   status.String,
			Assignee: assignee.String,
			Region:   region.String,
			Deadline: storeutil.DeadlineTime(deadline.Int64),
			Waiting:  waiting.Bool,
		}
	}
	return head, d, true, nil
}
