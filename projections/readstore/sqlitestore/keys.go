package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const loadKeySQL = `SELECT wrapped, erased_at FROM readstore_keys WHERE id = ?`

// LoadKey implements readstore.Store.
func (s *Store) LoadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error) {
	// Prepared once: a rebuild after a restart loads every applicant's
	// key, and preparing took a third of each load (BenchmarkLoadKey).
	st, err := s.stmts.acquire(ctx, "", loadKeySQL)
	if err != nil {
		return nil, false, false, fmt.Errorf("sqlitestore: load key: %w", err)
	}
	defer st.release()
	var erasedAt int64
	err = st.QueryRowContext(ctx, id).Scan(&wrapped, &erasedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("sqlitestore: load key: %w", err)
	}
	if erasedAt != 0 {
		return nil, true, true, nil
	}
	return wrapped, false, true, nil
}

// CreateKey implements readstore.Store.
func (s *Store) CreateKey(ctx context.Context, id string, wrapped []byte) ([]byte, bool, error) {
	if id == "" || len(wrapped) == 0 {
		return nil, false, errors.New("sqlitestore: create key: empty id or key")
	}
	var stored []byte
	var erasedAt int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_keys (id, wrapped, created_at, erased_at) VALUES (?, ?, ?, 0) ON CONFLICT (id) DO NOTHING`,
			id, wrapped, time.Now().UnixNano()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT wrapped, erased_at FROM readstore_keys WHERE id = ?`, id).Scan(&stored, &erasedAt)
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlitestore: create key: %w", err)
	}
	if erasedAt != 0 {
		return nil, true, nil
	}
	return stored, false, nil
}

// EraseKey implements readstore.Store. With secure_delete on, the old
// wrapped bytes are zeroed in the page; Scrub then clears the WAL.
func (s *Store) EraseKey(ctx context.Context, id string) error {
	now := time.Now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO readstore_keys (id, wrapped, created_at, erased_at) VALUES (?, NULL, ?, ?)
			ON CONFLICT (id) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at WHERE erased_at = 0`, id, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: erase key: %w", err)
	}
	return nil
}

// Scrub implements readstore.Store: the WAL still holds the pages as they
// were before recent writes, so it is checkpointed into the (securely
// deleting) database file and truncated to nothing.
func (s *Store) Scrub(ctx context.Context) error {
	// A reader in the middle of a query pins WAL frames; they finish in
	// milliseconds, so a few tries are enough.
	for try := 0; ; try++ {
		var busy, logFrames, done int
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return fmt.Errorf("sqlitestore: scrub: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if try == 50 {
			return errors.New("sqlitestore: scrub: readers kept the WAL from being truncated; try again")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlitestore: scrub: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
