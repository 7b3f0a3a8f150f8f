package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the statement cache. A queue table has a few dozen
// query shapes, so this holds many generations of every collection; a shape
// beyond the bound is prepared, used once and closed.
const maxCachedStmts = 1024

// stmtCache keeps reader statements prepared. Preparing is a large part of
// a point read on modernc.org/sqlite (SQL parsing runs as transpiled C), and
// database/sql prepares anew on every DB.Query.
//
// Statements are reference-counted so that dropping a collection can close
// its statements without pulling one out from under a running read.
//
// Statements are prepared on the pool, never inside a transaction: that
// would need a second connection while holding one, and a full pool of
// such readers would wait on each other forever.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*cachedStmt // by SQL text
	closed bool
}

type cachedStmt struct {
	*sql.Stmt
	c     *stmtCache
	table string // physical collection, "" for statements on internal tables
	refs  int
	dead  bool // no longer in the map: close on the last release
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*cachedStmt{}}
}

var errClosed = errors.New("sqlitestore: store is closed")

// acquire returns a prepared statement; the caller must release it.
func (c *stmtCache) acquire(ctx context.Context, table, query string) (*cachedStmt, error) {
	c.mu.Lock()
	if e, ok := c.m[query]; ok {
		e.refs++
		c.mu.Unlock()
		return e, nil
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errClosed
	}

	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[query]; ok { // another reader prepared it meanwhile
		_ = stmt.Close()
		e.refs++
		return e, nil
	}
	e := &cachedStmt{Stmt: stmt, c: c, table: table, refs: 1}
	if c.closed || len(c.m) >= maxCachedStmts {
		e.dead = true
	} else {
		c.m[query] = e
	}
	return e, nil
}

func (e *cachedStmt) release() {
	e.c.mu.Lock()
	e.refs--
	closeNow := e.dead && e.refs == 0
	e.c.mu.Unlock()
	if closeNow {
		_ = e.Stmt.Close()
	}
}

// forget closes the statements of a dropped collection.
func (c *stmtCache) forget(table string) {
	c.mu.Lock()
	var idle []*sql.Stmt
	for q, e := range c.m {
		if e.table == table {
			delete(c.m, q)
			e.dead = true
			if e.refs == 0 {
				idle = append(idle, e.Stmt)
			}
		}
	}
	c.mu.Unlock()
	for _, st := range idle {
		_ = st.Close()
	}
}

// close closes every idle statement; busy ones close on release.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	var idle []*sql.Stmt
	for q, e := range c.m {
		delete(c.m, q)
		e.dead = true
		if e.refs == 0 {
			idle = append(idle, e.Stmt)
		}
	}
	c.mu.Unlock()
	for _, st := range idle {
		_ = st.Close()
	}
}
