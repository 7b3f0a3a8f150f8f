package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

const (
	docColumns   = `id, position, body`
	queueColumns = `id, position, body, status, assignee, region, deadline, waiting`
)

func columns(kind readstore.Kind) string {
	if kind == readstore.KindQueue {
		return queueColumns
	}
	return docColumns
}

type scanner interface{ Scan(dest ...any) error }

func scanDoc(sc scanner, kind readstore.Kind) (readstore.Doc, error) {
	var d readstore.Doc
	var pos int64
	var body []byte
	if kind != readstore.KindQueue {
		if err := sc.Scan(&d.ID, &pos, &body); err != nil {
			return d, err
		}
	} else {
		var q readstore.QueueFields
		var deadline int64
		if err := sc.Scan(&d.ID, &pos, &body, &q.Status, &q.Assignee, &q.Region, &deadline, &q.Waiting); err != nil {
			return d, err
		}
		q.Deadline = storeutil.DeadlineTime(deadline)
		d.Queue = &q
	}
	d.Position = storeutil.PositionFromInt(pos)
	d.Body = body
	return d, nil
}

const (
	resolveSQL = `SELECT a.physical, c.kind FROM readstore_aliases a
		JOIN readstore_collections c ON c.name = a.physical WHERE a.logical = ?`
	kindSQL = `SELECT kind FROM readstore_collections WHERE name = ?`
)

// errAliasMoved makes onAlias look the alias up again.
var errAliasMoved = errors.New("sqlitestore: alias moved during the read")

// resolve maps a logical name to its physical collection and kind.
func (s *Store) resolve(ctx context.Context, logical string) (string, readstore.Kind, error) {
	st, err := s.stmts.acquire(ctx, "", resolveSQL)
	if err != nil {
		return "", 0, fmt.Errorf("sqlitestore: resolve %q: %w", logical, err)
	}
	defer st.release()
	var physical string
	var k int
	err = st.QueryRowContext(ctx, logical).Scan(&physical, &k)
	if errors.Is(err, sql.ErrNoRows) {
		s.hints.dropAlias(logical)
		return "", 0, fmt.Errorf("sqlitestore: logical collection %q: %w", logical, readstore.ErrNoCollection)
	}
	if err != nil {
		return "", 0, fmt.Errorf("sqlitestore: resolve %q: %w", logical, err)
	}
	s.hints.setAlias(logical, physical, readstore.Kind(k))
	return physical, readstore.Kind(k), nil
}

// physicalKind is kindOf for readers, on a cached statement.
func (s *Store) physicalKind(ctx context.Context, physical string) (readstore.Kind, error) {
	st, err := s.stmts.acquire(ctx, "", kindSQL)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: look up collection %q: %w", physical, err)
	}
	defer st.release()
	var k int
	err = st.QueryRowContext(ctx, physical).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: collection %q: %w", physical, readstore.ErrNoCollection)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: look up collection %q: %w", physical, err)
	}
	return readstore.Kind(k), nil
}

// onAlias resolves a logical name and runs read on its collection. The
// lookup and the read are separate statements, each on its own snapshot, so
// an alias switch followed at once by a drop of the old collection can land
// between them; a read that fails while its alias moved is run again on the
// new target. A read that merely raced the switch and succeeded returns what
// the old generation held a moment ago, which no caller can tell from a read
// made just before the switch.
func (s *Store) onAlias(ctx context.Context, logical string, read func(physical string, kind readstore.Kind) error) error {
	if err := storeutil.CheckName(logical); err != nil {
		return err
	}
	physical, kind, err := s.resolve(ctx, logical)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := read(physical, kind)
		if err == nil || errors.Is(err, readstore.ErrNotFound) || ctx.Err() != nil {
			return err
		}
		p, k, rerr := s.resolve(ctx, logical)
		switch {
		case rerr != nil:
			return rerr
		case p == physical && !errors.Is(err, errAliasMoved), attempt == 3:
			return err
		}
		physical, kind = p, k
	}
}

// List scans IDs by prefix. The range is bounded above by the prefix's
// successor where one exists, and rows are still checked with HasPrefix, so
// the result is right even for prefixes without a representable bound.
func (s *Store) List(ctx context.Context, q readstore.ListQuery) ([]readstore.Doc, error) {
	limit := storeutil.Limit(q.Limit)
	var docs []readstore.Doc
	err := s.onAlias(ctx, q.Collection, func(physical string, kind readstore.Kind) error {
		docs = make([]readstore.Doc, 0, min(limit, 64))
		query, args := listSQL(physical, kind, q, limit)
		st, err := s.stmts.acquire(ctx, physical, query)
		if err != nil {
			return fmt.Errorf("sqlitestore: list %s: %w", physical, err)
		}
		defer st.release()
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlitestore: list %s: %w", physical, err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDoc(rows, kind)
			if err != nil {
				return fmt.Errorf("sqlitestore: list %s: %w", physical, err)
			}
			if !strings.HasPrefix(d.ID, q.Prefix) {
				break
			}
			docs = append(docs, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlitestore: list %s: %w", physical, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return docs, nil
}

func listSQL(physical string, kind readstore.Kind, q readstore.ListQuery, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT ` + columns(kind) + ` FROM ` + tableName(physical))
	start, exclusive := storeutil.ListStart(q)
	if exclusive {
		b.WriteString(` WHERE id > ?`)
	} else {
		b.WriteString(` WHERE id >= ?`)
	}
	args := []any{start}
	if end := storeutil.PrefixEnd(q.Prefix); end != "" {
		b.WriteString(` AND id < ?`)
		args = append(args, end)
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, limit)
	return b.String(), args
}

// Queue reads one page of a queue. A query for several statuses runs one
// index range per status and merges them here: SQLite cannot read an IN list
// on the leading index column in (deadline, id) order, and would otherwise
// sort every matching row in a temp B-tree to return a page. The ranges then
// run in one read transaction, so that a document changing status between
// them is seen exactly once.
func (s *Store) Queue(ctx context.Context, q readstore.QueueQuery) (readstore.QueuePage, error) {
	limit := storeutil.Limit(q.Limit)
	statuses := slices.Compact(slices.Sorted(slices.Values(q.Status)))
	var docs []readstore.Doc
	err := s.onAlias(ctx, q.Collection, func(physical string, kind readstore.Kind) error {
		if kind != readstore.KindQueue {
			return fmt.Errorf("sqlitestore: %q (%s) is not a queue collection", q.Collection, physical)
		}
		docs = nil
		if len(statuses) <= 1 {
			var status *string
			if len(statuses) == 1 {
				status = &statuses[0]
			}
			query, args := queueSQL(physical, q, status, limit+1)
			st, err := s.stmts.acquire(ctx, physical, query)
			if err != nil {
				return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
			}
			defer st.release()
			docs, err = queueRows(ctx, st.Stmt, args, docs)
			if err != nil {
				return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
			}
			return nil
		}
		return s.queueMerged(ctx, q, physical, statuses, limit, &docs)
	})
	if err != nil {
		return readstore.QueuePage{}, err
	}
	return storeutil.QueuePage(docs, limit), nil
}

func (s *Store) queueMerged(ctx context.Context, q readstore.QueueQuery, physical string, statuses []string, limit int, docs *[]readstore.Doc) error {
	// Prepare before BEGIN: see stmtCache.
	resolveSt, err := s.stmts.acquire(ctx, "", resolveSQL)
	if err != nil {
		return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
	}
	defer resolveSt.release()
	arms := make([]*cachedStmt, len(statuses))
	args := make([][]any, len(statuses))
	for i := range statuses {
		var query string
		query, args[i] = queueSQL(physical, q, &statuses[i], limit+1)
		if arms[i], err = s.stmts.acquire(ctx, physical, query); err != nil {
			return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
		}
		defer arms[i].release()
	}

	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
	}
	defer func() { _ = tx.Rollback() }()
	var now string
	var k int
	if err := tx.StmtContext(ctx, resolveSt.Stmt).QueryRowContext(ctx, q.Collection).Scan(&now, &k); err != nil || now != physical {
		return errAliasMoved
	}
	for i, arm := range arms {
		if *docs, err = queueRows(ctx, tx.StmtContext(ctx, arm.Stmt), args[i], *docs); err != nil {
			return fmt.Errorf("sqlitestore: queue %s: %w", physical, err)
		}
	}
	slices.SortFunc(*docs, storeutil.CompareQueue)
	return nil
}

func queueRows(ctx context.Context, st *sql.Stmt, args []any, docs []readstore.Doc) ([]readstore.Doc, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return docs, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDoc(rows, readstore.KindQueue)
		if err != nil {
			return docs, err
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

// queueSQL builds one index range of a queue query: equality columns, then a
// range on deadline and the keyset cursor, in index order.
func queueSQL(physical string, q readstore.QueueQuery, status *string, limit int) (string, []any) {
	var conds []string
	var args []any
	if status != nil {
		conds = append(conds, `status = ?`)
		args = append(args, *status)
	}
	if q.Assignee != nil {
		conds = append(conds, `assignee = ?`)
		args = append(args, *q.Assignee)
	}
	if q.Region != "" {
		conds = append(conds, `region = ?`)
		args = append(args, q.Region)
	}
	if q.Overdue != nil {
		now := storeutil.DeadlineNanos(q.Now)
		if *q.Overdue {
			conds = append(conds, `waiting = 0`, `deadline < ?`)
		} else {
			// Written as NOT(...) rather than an OR so that the planner
			// keeps the ordered index range instead of an OR-by-union
			// plan that must sort.
			conds = append(conds, `NOT (waiting = 0 AND deadline < ?)`)
		}
		args = append(args, now)
	}
	if q.After != nil {
		conds = append(conds, `(deadline, id) > (?, ?)`)
		args = append(args, storeutil.DeadlineNanos(q.After.Deadline), q.After.ID)
	}
	if q.Through != nil {
		conds = append(conds, `(deadline, id) <= (?, ?)`)
		args = append(args, storeutil.DeadlineNanos(q.Through.Deadline), q.Through.ID)
	}
	if q.ChangedAfter > 0 {
		conds = append(conds, `position > ?`)
		args = append(args, storeutil.PositionToInt(q.ChangedAfter))
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + queueColumns + ` FROM ` + tableName(physical))
	if len(conds) > 0 {
		b.WriteString(` WHERE ` + strings.Join(conds, ` AND `))
	}
	b.WriteString(` ORDER BY deadline, id LIMIT ?`)
	args = append(args, limit)
	return b.String(), args
}

// collStmts are one flush's prepared statements for one collection.
type collStmts struct {
	kind     readstore.Kind
	table    string
	put, del *sql.Stmt
	// Queue collections only: the current queue fields of a document, and
	// UPDATEs that set just the changed ones, by changed-field mask.
	cur     *sql.Stmt
	updates map[queueMask]*sql.Stmt
}

// queueMask says which queue fields an update changes.
type queueMask uint8

const (
	maskStatus queueMask = 1 << iota
	maskAssignee
	maskRegion
	maskDeadline
	maskWaiting
)

var queueMaskColumns = []struct {
	bit queueMask
	col string
}{{maskStatus, "status"}, {maskAssignee, "assignee"}, {maskRegion, "region"}, {maskDeadline, "deadline"}, {maskWaiting, "waiting"}}

// AtomicFlush reports that Flush is one transaction (readstore.AtomicFlusher).
func (s *Store) AtomicFlush() bool { return true }

// Flush applies the writes and the checkpoint in one transaction. Writes are
// checked as they are applied, so an invalid write rolls back the ones
// before it as well.
func (s *Store) Flush(ctx context.Context, writes []readstore.Write, cp readstore.Checkpoint) error {
	cp, err := storeutil.CheckCheckpoint(cp, time.Now())
	if err != nil {
		return err
	}
	start := time.Now()
	s.wcache.reserve(ctx, len(writes))
	defer s.wcache.flushed(len(writes))
	err = s.write(ctx, func(tx *sql.Tx) error {
		// First, so that a stale term's flush costs no writes. The writer
		// holds the database's write lock from here to the commit (an
		// IMMEDIATE transaction), so no successor can store a newer token
		// between this check and the commit, in this process or another.
		if err := checkFence(ctx, tx, cp); err != nil {
			return err
		}
		stmts := map[string]*collStmts{}
		for i, w := range writes {
			st, ok := stmts[w.Collection]
			if !ok {
				var perr error
				if st, perr = prepareColl(ctx, tx, w.Collection); perr != nil {
					return fmt.Errorf("sqlitestore: write %d: %w", i, perr)
				}
				stmts[w.Collection] = st
			}
			if err := storeutil.CheckWrite(w, st.kind); err != nil {
				return fmt.Errorf("sqlitestore: write %d: %w", i, err)
			}
			if err := st.apply(ctx, tx, w); err != nil {
				return fmt.Errorf("sqlitestore: write %d (%s/%s): %w", i, w.Collection, w.Doc.ID, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO readstore_checkpoints (projection, position, generation, updated_at, fence)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection) DO UPDATE SET
			position = excluded.position, generation = excluded.generation, updated_at = excluded.updated_at,
			fence = max(fence, excluded.fence)`,
			cp.Projection, storeutil.PositionToInt(cp.Position), cp.Generation, cp.UpdatedAt.UnixNano(), storeutil.PositionToInt(cp.Fence))
		if err != nil {
			return fmt.Errorf("sqlitestore: store checkpoint %q: %w", cp.Projection, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Debug("flushed", "projection", cp.Projection, "position", cp.Position, "writes", len(writes), "took", time.Since(start))
	return nil
}

// checkFence refuses a flush whose lease term is older than the one
// stored with the projection's checkpoint (readstore.Checkpoint.Fence).
func checkFence(ctx context.Context, tx *sql.Tx, cp readstore.Checkpoint) error {
	if cp.Fence == 0 {
		return nil
	}
	var stored int64
	err := tx.QueryRowContext(ctx, `SELECT fence FROM readstore_checkpoints WHERE projection = ?`, cp.Projection).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: read the fence of %q: %w", cp.Projection, err)
	}
	if s := storeutil.PositionFromInt(stored); s > cp.Fence {
		return fmt.Errorf("sqlitestore: flush of %q with fencing token %d, a newer term stored %d: %w", cp.Projection, cp.Fence, s, readstore.ErrFenced)
	}
	return nil
}

func prepareColl(ctx context.Context, tx *sql.Tx, physical string) (*collStmts, error) {
	if err := storeutil.CheckName(physical); err != nil {
		return nil, err
	}
	kind, err := kindOf(ctx, tx, physical)
	if err != nil {
		return nil, err
	}
	t := tableName(physical)
	st := &collStmts{kind: kind, table: t}
	put := `INSERT INTO ` + t + ` (id, position, body) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET position = excluded.position, body = excluded.body`
	if kind == readstore.KindQueue {
		put = `INSERT INTO ` + t + ` (id, position, body, status, assignee, region, deadline, waiting)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
		if st.cur, err = tx.PrepareContext(ctx, `SELECT status, assignee, region, deadline, waiting FROM `+t+` WHERE id = ?`); err != nil {
			return nil, fmt.Errorf("sqlitestore: prepare read of %s: %w", physical, err)
		}
		st.updates = map[queueMask]*sql.Stmt{}
	}
	if st.put, err = tx.PrepareContext(ctx, put); err != nil {
		return nil, fmt.Errorf("sqlitestore: prepare upsert into %s: %w", physical, err)
	}
	if st.del, err = tx.PrepareContext(ctx, `DELETE FROM `+t+` WHERE id = ?`); err != nil {
		return nil, fmt.Errorf("sqlitestore: prepare delete from %s: %w", physical, err)
	}
	return st, nil
}

func (st *collStmts) apply(ctx context.Context, tx *sql.Tx, w readstore.Write) error {
	if w.Delete {
		_, err := st.del.ExecContext(ctx, w.Doc.ID)
		return err
	}
	pos := storeutil.PositionToInt(w.Doc.Position)
	// Bound as a string: a []byte would be a BLOB, which a STRICT TEXT
	// column refuses.
	body := string(w.Doc.Body)
	if st.kind != readstore.KindQueue {
		_, err := st.put.ExecContext(ctx, w.Doc.ID, pos, body)
		return err
	}
	return st.applyQueue(ctx, tx, w.Doc, pos, body)
}

// applyQueue updates only the queue columns whose values change. SQLite
// rewrites an index entry whenever an UPDATE names one of its columns, equal
// value or not, and a queue table has six indexes; most projection updates
// move the status and leave the rest alone.
func (st *collStmts) applyQueue(ctx context.Context, tx *sql.Tx, d readstore.Doc, pos int64, body string) error {
	q := d.Queue
	deadline := storeutil.DeadlineNanos(q.Deadline)
	var old readstore.QueueFields
	var oldDeadline int64
	err := st.cur.QueryRowContext(ctx, d.ID).Scan(&old.Status, &old.Assignee, &old.Region, &oldDeadline, &old.Waiting)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = st.put.ExecContext(ctx, d.ID, pos, body, q.Status, q.Assignee, q.Region, deadline, q.Waiting)
		return err
	}
	if err != nil {
		return err
	}
	var mask queueMask
	args := []any{pos, body}
	if q.Status != old.Status {
		mask |= maskStatus
		args = append(args, q.Status)
	}
	if q.Assignee != old.Assignee {
		mask |= maskAssignee
		args = append(args, q.Assignee)
	}
	if q.Region != old.Region {
		mask |= maskRegion
		args = append(args, q.Region)
	}
	if deadline != oldDeadline {
		mask |= maskDeadline
		args = append(args, deadline)
	}
	if q.Waiting != old.Waiting {
		mask |= maskWaiting
		args = append(args, q.Waiting)
	}
	upd, ok := st.updates[mask]
	if !ok {
		var b strings.Builder
		b.WriteString(`UPDATE ` + st.table + ` SET position = ?, body = ?`)
		for _, c := range queueMaskColumns {
			if mask&c.bit != 0 {
				b.WriteString(`, ` + c.col + ` = ?`)
			}
		}
		b.WriteString(` WHERE id = ?`)
		if upd, err = tx.PrepareContext(ctx, b.String()); err != nil {
			return fmt.Errorf("prepare update: %w", err)
		}
		st.updates[mask] = upd
	}
	_, err = upd.ExecContext(ctx, append(args, d.ID)...)
	return err
}
