package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// vaultFileName is the key vault's database, beside readmodels.db.
//
// The data keys are not derived data: an event sealed with a key that is
// lost can never be read again, while every read model can be rebuilt from
// the events. So they live in a database of their own, which commits with
// synchronous=FULL (a key is on disk before the event sealed with it is
// appended), and whose single writer is not the one the projections'
// flushes hold for tens of milliseconds: a first submission waits for its
// applicant's key to be written, and it used to wait behind a flush.
const vaultFileName = "vault.db"

const vaultSchema = `CREATE TABLE IF NOT EXISTS readstore_keys (
	id TEXT PRIMARY KEY NOT NULL,
	wrapped BLOB,
	created_at INTEGER NOT NULL,
	erased_at INTEGER NOT NULL
) STRICT`

// vault is the key vault's connections, and its group commit of new keys.
type vault struct {
	w    *sql.DB // one connection, synchronous=FULL
	r    *sql.DB // query-only
	load *sql.Stmt

	// creates feed the committer: every applicant's first submission
	// creates a key, and one fsync per key would bound submissions by the
	// disk's fsync rate (633 submissions/s measured), so the keys that
	// arrive while one commit is syncing go into the next, together.
	creates chan *createReq
	stop    chan struct{}
	stopped chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type createReq struct {
	id      string
	wrapped []byte
	stored  []byte
	erased  bool
	err     error
	done    chan struct{}
}

// maxKeysPerCommit bounds a group commit, so that a burst does not hold
// the vault's writer for long.
const maxKeysPerCommit = 256

func openVault(ctx context.Context, dir string, common []string) (*vault, error) {
	path := filepath.Join(dir, vaultFileName)
	// secure_delete zeroes an erased key's bytes in the page (see Scrub for
	// the WAL). The WAL is small (a row per applicant), so the automatic
	// checkpoint is enough.
	w, err := openDB(path, append(common, "secure_delete(1)", "journal_mode(WAL)", "synchronous(FULL)"), "immediate")
	if err != nil {
		return nil, err
	}
	keepOpen(w, 1)
	if _, err := w.ExecContext(ctx, vaultSchema); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: create the key vault: %w", err)
	}
	r, err := openDB(path, append(common, "query_only(1)"), "")
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	keepOpen(r, 2)
	// Prepared once: a rebuild after a restart loads every applicant's
	// key, and preparing took a third of each load (BenchmarkLoadKey).
	load, err := r.PrepareContext(ctx, `SELECT wrapped, erased_at FROM readstore_keys WHERE id = ?`)
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: prepare key loads: %w", err)
	}
	v := &vault{w: w, r: r, load: load, creates: make(chan *createReq), stop: make(chan struct{}), stopped: make(chan struct{})}
	go v.commitLoop()
	return v, nil
}

func (v *vault) close() error {
	v.closeOnce.Do(func() {
		close(v.stop)
		<-v.stopped
		v.closeErr = errors.Join(v.load.Close(), v.r.Close(), v.w.Close())
	})
	return v.closeErr
}

var errVaultClosed = errors.New("sqlitestore: the key vault is closed")

// create queues a new key for the next group commit and waits for it.
func (v *vault) create(ctx context.Context, id string, wrapped []byte) ([]byte, bool, error) {
	req := &createReq{id: id, wrapped: wrapped, done: make(chan struct{})}
	select {
	case v.creates <- req:
	case <-v.stop:
		return nil, false, errVaultClosed
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	// Once taken, the request is answered even if ctx ends: the key may be
	// committed, and the caller must not believe otherwise.
	<-req.done
	return req.stored, req.erased, req.err
}

func (v *vault) commitLoop() {
	defer close(v.stopped)
	for {
		var first *createReq
		select {
		case first = <-v.creates:
		case <-v.stop:
			return
		}
		batch := []*createReq{first}
	drain:
		for len(batch) < maxKeysPerCommit {
			select {
			case r := <-v.creates:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := v.commit(batch)
		for _, r := range batch {
			if err != nil {
				r.err = err
			}
			close(r.done)
		}
	}
}

// commit writes a batch of keys in one transaction. A key that exists
// already (another node or a retry created it) is kept, and its stored
// value is what the caller gets.
func (v *vault) commit(batch []*createReq) error {
	// Not the callers' contexts: one caller going away must not roll back
	// the others' keys.
	ctx := context.Background()
	tx, err := v.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	now := time.Now().UnixNano()
	for _, r := range batch {
		if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_keys (id, wrapped, created_at, erased_at) VALUES (?, ?, ?, 0) ON CONFLICT (id) DO NOTHING`,
			r.id, r.wrapped, now); err != nil {
			_ = tx.Rollback()
			return err
		}
		var erasedAt int64
		if err := tx.QueryRowContext(ctx, `SELECT wrapped, erased_at FROM readstore_keys WHERE id = ?`, r.id).Scan(&r.stored, &erasedAt); err != nil {
			_ = tx.Rollback()
			return err
		}
		r.erased = erasedAt != 0
		if r.erased {
			r.stored = nil
		}
	}
	return tx.Commit()
}

// moveKeys moves the keys an older version kept in readmodels.db into the
// vault: copied and made durable first, then deleted (securely) from the
// read models, so that a crash in between only copies them again.
func (s *Store) moveKeys(ctx context.Context) error {
	var n int
	err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'readstore_keys'`).Scan(&n)
	if err != nil || n == 0 {
		return err
	}
	rows, err := s.w.QueryContext(ctx, `SELECT id, wrapped, created_at, erased_at FROM readstore_keys`)
	if err != nil {
		return err
	}
	type key struct {
		id              string
		wrapped         []byte
		created, erased int64
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.id, &k.wrapped, &k.created, &k.erased); err != nil {
			rows.Close()
			return err
		}
		keys = append(keys, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	if len(keys) > 0 {
		tx, err := s.vault.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, k := range keys {
			// An erasure in either place wins.
			if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_keys (id, wrapped, created_at, erased_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at WHERE excluded.erased_at != 0 AND erased_at = 0`,
				k.id, k.wrapped, k.created, k.erased); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DROP TABLE readstore_keys`)
		return err
	}); err != nil {
		return err
	}
	s.log.Info("moved the key vault out of the read models", "keys", len(keys), "file", vaultFileName)
	return nil
}

// LoadKey implements readstore.Store.
func (s *Store) LoadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error) {
	var erasedAt int64
	err = s.vault.load.QueryRowContext(ctx, id).Scan(&wrapped, &erasedAt)
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

// EdgeKey implements readstore.Store: the first or last row inserted,
// which the table's rowid orders.
func (s *Store) EdgeKey(ctx context.Context, newest bool) (string, []byte, bool, error) {
	order := "ASC"
	if newest {
		order = "DESC"
	}
	var id string
	var wrapped []byte
	err := s.vault.r.QueryRowContext(ctx, `SELECT id, wrapped FROM readstore_keys WHERE erased_at = 0 ORDER BY rowid `+order+` LIMIT 1`).Scan(&id, &wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlitestore: edge key: %w", err)
	}
	return id, wrapped, true, nil
}

// CreateKey implements readstore.Store. It returns once the key is on disk.
func (s *Store) CreateKey(ctx context.Context, id string, wrapped []byte) ([]byte, bool, error) {
	if id == "" || len(wrapped) == 0 {
		return nil, false, errors.New("sqlitestore: create key: empty id or key")
	}
	stored, erased, err := s.vault.create(ctx, id, wrapped)
	if err != nil {
		return nil, false, fmt.Errorf("sqlitestore: create key: %w", err)
	}
	return stored, erased, nil
}

// EraseKey implements readstore.Store. With secure_delete on, the old
// wrapped bytes are zeroed in the page; Scrub then clears the WAL.
func (s *Store) EraseKey(ctx context.Context, id string) error {
	now := time.Now().UnixNano()
	err := s.vaultWrite(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO readstore_keys (id, wrapped, created_at, erased_at) VALUES (?, NULL, ?, ?)
			ON CONFLICT (id) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at WHERE erased_at = 0`, id, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: erase key: %w", err)
	}
	return nil
}

func (s *Store) vaultWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.vault.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Scrub implements readstore.Store: the WALs still hold the pages as they
// were before recent writes (an erased key, a read model's personal data),
// so both are checkpointed into the (securely deleting) database files and
// truncated.
func (s *Store) Scrub(ctx context.Context) error {
	for _, db := range []*sql.DB{s.vault.w, s.w} {
		if err := truncateWAL(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

func truncateWAL(ctx context.Context, db *sql.DB) error {
	// A reader in the middle of a query pins WAL frames; they finish in
	// milliseconds, so a few tries are enough.
	for try := 0; ; try++ {
		var busy, logFrames, done int
		if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
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
