// Package sqlitestore is the embedded readstore adapter: one SQLite database
// (pure Go, modernc.org/sqlite, so the binary stays cgo-free) for documents,
// aliases and checkpoints, plus content-addressed files for blobs. It is what
// a single-node deployment runs on and what most tests use.
//
// Layout under Options.Dir:
//
//	readmodels.db            documents, aliases, checkpoints, blob metadata
//	vault.db                 the data keys of sealed personal data (see vault.go)
//	blobs/<aa>/<sha256>      blob bytes, aa = first two hex digits
//	blobs/tmp/               uploads in progress
//
// One connection writes (SQLite has one writer anyway, and a single writer
// connection turns lock contention into Go-side queueing instead of
// SQLITE_BUSY), and a pool of query-only connections reads; WAL mode lets
// them read while the writer commits.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

const (
	dbFileName = "readmodels.db"
	blobDir    = "blobs"
	blobTmpDir = "tmp"

	// DefaultMmapSize is used when Options.MmapSize is zero. Measured on
	// modernc.org/sqlite: point reads run at about 45% of the cgo driver's
	// speed without mmap and about 0.9x with it, because mmap skips the
	// transpiled page-cache copy.
	DefaultMmapSize = 1 << 30
	// DefaultBusyTimeout is used when Options.BusyTimeout is zero. Only
	// WAL checkpoints and other processes can make a connection wait; a
	// few seconds rides those out without hiding a stuck writer.
	DefaultBusyTimeout = 5 * time.Second

	// schemaVersion 2 moved the data keys into vault.db. An older program
	// must refuse the file: it would recreate an empty keys table, make
	// new keys for applicants who have them in the vault, and seal events
	// with keys that the move back drops.
	schemaVersion = 2
)

// Options configure Open.
type Options struct {
	// Dir holds the database file and the blobs; it is created if missing.
	Dir string
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// ReadConns bounds the reader pool; zero means max(4, GOMAXPROCS).
	// Every connection has its own page cache, so the bound also bounds
	// memory.
	ReadConns int
	// MmapSize is PRAGMA mmap_size in bytes; zero means DefaultMmapSize and
	// a negative value turns memory mapping off.
	MmapSize int64
	// BusyTimeout is PRAGMA busy_timeout; zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// CheckpointInterval is how often a background connection copies the
	// WAL into the database file after writes; zero means
	// DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// WriterCacheIdle is how long after the last large flush the writer's
	// page cache is shrunk back; zero means DefaultWriterCacheIdle.
	WriterCacheIdle time.Duration
}

// Store is the SQLite readstore adapter. It is safe for concurrent use.
type Store struct {
	dir   string
	blobs string
	log   *slog.Logger
	w     *sql.DB // exactly one connection
	r     *sql.DB // query-only pool
	stmts *stmtCache
	hints *hints
	vault *vault
	// commits counts write transactions, for the checkpointer.
	commits atomic.Uint64
	ckpt    *checkpointer
	wcache  *writerCache

	// blobLocks serialise publishing and deleting a blob file with its row,
	// so a PutBlob that dedupes against a file cannot race a DeleteBlob
	// removing it. They are striped by the content's hash: only the same
	// bytes need the order, and one lock for all made every upload wait
	// for the others' directory fsyncs. Uploads stream outside the lock.
	blobLocks [256]sync.Mutex
}

// blobLock is the lock of a blob's stripe: its hash's first byte (sum is
// checked hex before it gets here).
func (s *Store) blobLock(sum string) *sync.Mutex {
	b, _ := strconv.ParseUint(sum[:2], 16, 8)
	return &s.blobLocks[b]
}

var _ readstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in opts.Dir.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("sqlitestore: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: resolve dir: %w", err)
	}
	if strings.ContainsRune(dir, '?') {
		// The driver splits the DSN at the first '?'.
		return nil, fmt.Errorf("sqlitestore: dir %q must not contain '?'", dir)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "readstore", "adapter", "sqlite")

	blobs := filepath.Join(dir, blobDir)
	if err := os.MkdirAll(filepath.Join(blobs, blobTmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: create dirs: %w", err)
	}

	mmap := opts.MmapSize
	switch {
	case mmap == 0:
		mmap = DefaultMmapSize
	case mmap < 0:
		mmap = 0
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = max(4, runtime.GOMAXPROCS(0))
	}

	path := filepath.Join(dir, dbFileName)
	common := []string{
		"busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")",
		"mmap_size(" + strconv.FormatInt(mmap, 10) + ")",
	}
	// journal_mode is persistent in the file; setting it on the writer,
	// which opens first, is enough. synchronous=NORMAL in WAL mode keeps
	// the database consistent on power loss and may lose only the last
	// commits, which a projection replays from its checkpoint anyway.
	// The WAL is checkpointed by a connection of its own (checkpointer);
	// the writer's wal_autocheckpoint is only a backstop. The writer's
	// page cache may grow to 256 MiB (it is allocated on use): a flush's
	// dirty pages must fit in it, or SQLite spills them to the WAL
	// mid-transaction and writes them twice; on a 1M-document queue that
	// cost about 30%. It stays small until such a flush comes, and is
	// shrunk again when they stop (writerCache).
	// secure_delete zeroes the bytes of deleted and overwritten rows, so
	// that personal data replaced by an erasure (see Scrub) does not
	// survive in free pages of the file.
	w, err := openDB(path, append(common, "secure_delete(1)", "journal_mode(WAL)", "synchronous(NORMAL)", "cache_size(-"+strconv.Itoa(smallWriterCacheKiB)+")", "wal_autocheckpoint("+strconv.Itoa(backstopCheckpointPages)+")"), "immediate")
	if err != nil {
		return nil, err
	}
	keepOpen(w, 1)

	s := &Store{dir: dir, blobs: blobs, log: log, w: w, hints: newHints()}
	if err := s.initSchema(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	if s.vault, err = openVault(ctx, dir, common); err != nil {
		_ = w.Close()
		return nil, err
	}
	if err := s.moveKeys(ctx); err != nil {
		_ = s.vault.close()
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: move the keys into %s: %w", vaultFileName, err)
	}

	r, err := openDB(path, append(common, "query_only(1)", "cache_size(-16384)"), "")
	if err != nil {
		_ = s.vault.close()
		_ = w.Close()
		return nil, err
	}
	keepOpen(r, readConns)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		_ = s.vault.close()
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: open readers: %w", err)
	}
	s.r = r
	s.stmts = newStmtCache(r)

	cdb, err := openDB(path, append(common, "synchronous(NORMAL)"), "")
	if err != nil {
		_ = r.Close()
		_ = s.vault.close()
		_ = w.Close()
		return nil, err
	}
	keepOpen(cdb, 1)
	interval := opts.CheckpointInterval
	if interval <= 0 {
		interval = DefaultCheckpointInterval
	}
	s.ckpt = &checkpointer{db: cdb, log: log, interval: interval, commits: &s.commits, stop: make(chan struct{}), done: make(chan struct{})}
	go s.ckpt.run()
	s.wcache = newWriterCache(w, log, opts.WriterCacheIdle)

	s.cleanTmp()
	log.Info("readstore opened", "dir", dir, "read_conns", readConns, "mmap_size", mmap)
	return s, nil
}

// keepOpen holds exactly n connections of db open for good: each has its
// pragmas and page cache, which a reopened connection would rebuild.
func keepOpen(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

func openDB(path string, pragmas []string, txlock string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if txlock != "" {
		// BEGIN IMMEDIATE takes the write lock up front, so a flush never
		// fails halfway with SQLITE_BUSY when upgrading a read lock.
		q.Set("_txlock", txlock)
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return db, nil
}

// Internal tables are prefixed readstore_ and document tables c_, and
// collection names start with a letter, so the two can never collide.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS readstore_collections (
		name TEXT PRIMARY KEY NOT NULL,
		kind INTEGER NOT NULL
	) STRICT`,
	`CREATE TABLE IF NOT EXISTS readstore_aliases (
		logical TEXT PRIMARY KEY NOT NULL,
		physical TEXT NOT NULL
	) STRICT`,
	`CREATE INDEX IF NOT EXISTS readstore_aliases_physical ON readstore_aliases (physical)`,
	`CREATE TABLE IF NOT EXISTS readstore_checkpoints (
		projection TEXT PRIMARY KEY NOT NULL,
		position INTEGER NOT NULL,
		generation INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		fence INTEGER NOT NULL DEFAULT 0
	) STRICT`,
	`CREATE TABLE IF NOT EXISTS readstore_blobs (
		sha256 TEXT PRIMARY KEY NOT NULL,
		size INTEGER NOT NULL,
		content_type TEXT NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT`,
}

func (s *Store) initSchema(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this program's %d", v, schemaVersion)
		}
		for _, q := range schema {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if err := addFenceColumn(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(schemaVersion)); err != nil {
			return fmt.Errorf("set schema version: %w", err)
		}
		return nil
	})
}

// addFenceColumn gives a checkpoints table made before fencing tokens its
// column. The schema version stays: a program from before ignores the
// column, and its unfenced flushes leave the stored token as it is.
func addFenceColumn(ctx context.Context, tx *sql.Tx) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('readstore_checkpoints') WHERE name = 'fence'`).Scan(&n)
	if err != nil {
		return fmt.Errorf("read the checkpoints' columns: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE readstore_checkpoints ADD COLUMN fence INTEGER NOT NULL DEFAULT 0`); err != nil {
		return fmt.Errorf("add the checkpoints' fence column: %w", err)
	}
	return nil
}

// Close stops the checkpointer and closes every connection.
func (s *Store) Close() error {
	var errs []error
	if s.wcache != nil {
		s.wcache.close()
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	if s.r != nil {
		s.stmts.close()
		errs = append(errs, s.r.Close())
	}
	if s.vault != nil {
		errs = append(errs, s.vault.close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	s.commits.Add(1)
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func tableName(physical string) string { return `"c_` + physical + `"` }

func indexName(physical, suffix string) string { return `"c_` + physical + `__` + suffix + `"` }

// kindOf returns the kind of a physical collection, or ErrNoCollection.
func kindOf(ctx context.Context, q querier, physical string) (readstore.Kind, error) {
	var k int
	err := q.QueryRowContext(ctx, kindSQL, physical).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: collection %q: %w", physical, readstore.ErrNoCollection)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: look up collection %q: %w", physical, err)
	}
	return readstore.Kind(k), nil
}

// EnsureCollection creates the table and, for queues, its indexes. Every
// queue index ends in (deadline, id) behind the equality columns, so that a
// filtered page is an index range read in sort order; with single-column
// indexes SQLite sorts in a temp B-tree and was measured 300-600x slower.
func (s *Store) EnsureCollection(ctx context.Context, physical string, kind readstore.Kind) error {
	if err := storeutil.CheckName(physical); err != nil {
		return err
	}
	if err := storeutil.CheckKind(kind); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		existing, err := kindOf(ctx, tx, physical)
		switch {
		case err == nil && existing == kind:
			return nil
		case err == nil:
			return fmt.Errorf("sqlitestore: collection %q exists with kind %d, not %d", physical, existing, kind)
		case !errors.Is(err, readstore.ErrNoCollection):
			return err
		}
		for _, q := range createStatements(physical, kind) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("sqlitestore: create collection %q: %w", physical, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_collections (name, kind) VALUES (?, ?)`, physical, int(kind)); err != nil {
			return fmt.Errorf("sqlitestore: register collection %q: %w", physical, err)
		}
		s.log.Info("collection created", "collection", physical, "kind", int(kind))
		return nil
	})
	return err
}

func createStatements(physical string, kind readstore.Kind) []string {
	t := tableName(physical)
	if kind != readstore.KindQueue {
		return []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (
			id TEXT PRIMARY KEY NOT NULL,
			position INTEGER NOT NULL,
			body TEXT NOT NULL
		) STRICT`}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
			id TEXT PRIMARY KEY NOT NULL,
			position INTEGER NOT NULL,
			body TEXT NOT NULL,
			status TEXT NOT NULL,
			assignee TEXT NOT NULL,
			region TEXT NOT NULL,
			deadline INTEGER NOT NULL,
			waiting INTEGER NOT NULL
		) STRICT`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "status") + ` ON ` + t + ` (status, deadline, id)`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "assignee") + ` ON ` + t + ` (assignee, status, deadline, id)`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "region") + ` ON ` + t + ` (region, status, deadline, id)`,
		// Without status, the two indexes above only narrow by their first
		// column and SQLite sorts the matches; a reviewer's or a region's
		// whole history is too many rows to sort for one page.
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "assignee_any") + ` ON ` + t + ` (assignee, deadline, id)`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "region_any") + ` ON ` + t + ` (region, deadline, id)`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(physical, "deadline") + ` ON ` + t + ` (deadline, id)`,
	}
}

// DropCollection drops the table unless an alias still points at it.
func (s *Store) DropCollection(ctx context.Context, physical string) error {
	if err := storeutil.CheckName(physical); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var logical string
		err := tx.QueryRowContext(ctx, `SELECT logical FROM readstore_aliases WHERE physical = ? LIMIT 1`, physical).Scan(&logical)
		switch {
		case err == nil:
			return fmt.Errorf("sqlitestore: collection %q is still aliased as %q", physical, logical)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlitestore: check aliases of %q: %w", physical, err)
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+tableName(physical)); err != nil {
			return fmt.Errorf("sqlitestore: drop %q: %w", physical, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM readstore_collections WHERE name = ?`, physical)
		if err != nil {
			return fmt.Errorf("sqlitestore: unregister %q: %w", physical, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			s.log.Info("collection dropped", "collection", physical)
		}
		return nil
	})
	if err == nil {
		s.stmts.forget(physical)
		s.hints.forget(physical)
	}
	return err
}

// SetAliases applies all alias changes in one transaction.
func (s *Store) SetAliases(ctx context.Context, aliases map[string]string) error {
	logicals := make([]string, 0, len(aliases))
	for l, p := range aliases {
		if err := storeutil.CheckName(l); err != nil {
			return err
		}
		if p != "" {
			if err := storeutil.CheckName(p); err != nil {
				return err
			}
		}
		logicals = append(logicals, l)
	}
	slices.Sort(logicals)
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, l := range logicals {
			p := aliases[l]
			if p == "" {
				if _, err := tx.ExecContext(ctx, `DELETE FROM readstore_aliases WHERE logical = ?`, l); err != nil {
					return fmt.Errorf("sqlitestore: remove alias %q: %w", l, err)
				}
				continue
			}
			if _, err := kindOf(ctx, tx, p); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_aliases (logical, physical) VALUES (?, ?)
				ON CONFLICT (logical) DO UPDATE SET physical = excluded.physical`, l, p); err != nil {
				return fmt.Errorf("sqlitestore: set alias %q: %w", l, err)
			}
		}
		s.log.Info("aliases set", "aliases", aliases)
		return nil
	})
}

// Alias reads one alias.
func (s *Store) Alias(ctx context.Context, logical string) (string, error) {
	if err := storeutil.CheckName(logical); err != nil {
		return "", err
	}
	var p string
	err := s.r.QueryRowContext(ctx, `SELECT physical FROM readstore_aliases WHERE logical = ?`, logical).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlitestore: alias %q: %w", logical, readstore.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlitestore: alias %q: %w", logical, err)
	}
	return p, nil
}

// LoadCheckpoint reads one checkpoint.
func (s *Store) LoadCheckpoint(ctx context.Context, projection string) (readstore.Checkpoint, error) {
	var pos, upd, fence int64
	cp := readstore.Checkpoint{Projection: projection}
	err := s.r.QueryRowContext(ctx, `SELECT position, generation, updated_at, fence FROM readstore_checkpoints WHERE projection = ?`,
		projection).Scan(&pos, &cp.Generation, &upd, &fence)
	if errors.Is(err, sql.ErrNoRows) {
		return readstore.Checkpoint{}, fmt.Errorf("sqlitestore: checkpoint %q: %w", projection, readstore.ErrNotFound)
	}
	if err != nil {
		return readstore.Checkpoint{}, fmt.Errorf("sqlitestore: checkpoint %q: %w", projection, err)
	}
	cp.Position = storeutil.PositionFromInt(pos)
	cp.UpdatedAt = time.Unix(0, upd).UTC()
	cp.Fence = storeutil.PositionFromInt(fence)
	return cp, nil
}

// Checkpoints lists all checkpoints by projection name.
func (s *Store) Checkpoints(ctx context.Context) ([]readstore.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT projection, position, generation, updated_at, fence FROM readstore_checkpoints ORDER BY projection`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list checkpoints: %w", err)
	}
	defer rows.Close()
	var out []readstore.Checkpoint
	for rows.Next() {
		var cp readstore.Checkpoint
		var pos, upd, fence int64
		if err := rows.Scan(&cp.Projection, &pos, &cp.Generation, &upd, &fence); err != nil {
			return nil, fmt.Errorf("sqlitestore: list checkpoints: %w", err)
		}
		cp.Position = storeutil.PositionFromInt(pos)
		cp.UpdatedAt = time.Unix(0, upd).UTC()
		cp.Fence = storeutil.PositionFromInt(fence)
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list checkpoints: %w", err)
	}
	return out, nil
}
