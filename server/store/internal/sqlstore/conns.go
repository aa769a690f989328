package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// querier is a pool or a transaction. Queries are written with "?"
// markers; the querier rewrites them for the dialect.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) scanner
}

// conns is a connection pool that rewrites queries for the dialect and,
// where prepare pays (SQLite, whose parser is most of a small query's
// cost, on a pool that keeps its connections), keeps each query prepared.
// pgx caches prepared statements per connection by itself.
type conns struct {
	db      *sql.DB
	numbers bool // $1, $2, ... instead of ?
	prepare bool
	mu      sync.Mutex
	texts   map[string]string
	stmts   map[string]*sql.Stmt
	pending map[string]bool // run unprepared in a transaction; prepare after it
}

func newConns(db *sql.DB, numbered, prepare bool) *conns {
	return &conns{db: db, numbers: numbered, prepare: prepare,
		texts: map[string]string{}, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// text is the query rewritten for the dialect.
func (c *conns) text(query string) string {
	if !c.numbers {
		return query
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.texts[query]; ok {
		return t
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	c.texts[query] = b.String()
	return c.texts[query]
}

// stmt is the prepared statement of a query, prepared now if need be, or
// nil where conns does not prepare. Never call it inside a transaction of
// a one-connection pool: the prepare would wait for that connection.
func (c *conns) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if !c.prepare {
		return nil, nil
	}
	if st := c.cached(query, false); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[query]; ok { // prepared meanwhile by another caller
		st.Close()
		return old, nil
	}
	c.stmts[query] = st
	return st, nil
}

// cached is the query's prepared statement if there is one; with remember,
// a query without one is noted for preparePending.
func (c *conns) cached(query string, remember bool) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok && remember && c.prepare {
		c.pending[query] = true
	}
	return st
}

// preparePending prepares the queries transactions ran unprepared, now that
// the connection is free again. It is only a cache: a query that fails to
// prepare here runs unprepared again next time, and its error is the one
// that caller sees.
func (c *conns) preparePending(ctx context.Context) {
	c.mu.Lock()
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		if _, err := c.stmt(ctx, q); err != nil {
			return
		}
	}
}

func (c *conns) close() error {
	c.mu.Lock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.mu.Unlock()
	return c.db.Close()
}

func (c *conns) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil || st != nil {
		return execStmt(ctx, st, err, args)
	}
	return c.db.ExecContext(ctx, c.text(query), args...)
}

func (c *conns) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil || st != nil {
		return queryStmt(ctx, st, err, args)
	}
	return c.db.QueryContext(ctx, c.text(query), args...)
}

func (c *conns) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	st, err := c.stmt(ctx, query)
	if err != nil || st != nil {
		return queryRowStmt(ctx, st, err, args)
	}
	return c.db.QueryRowContext(ctx, c.text(query), args...)
}

// txConns is a transaction on a conns. It uses the pool's prepared
// statements on the transaction's connection, and runs a query that has
// none unprepared (preparing it would need a second connection, which a
// one-connection pool does not have while the transaction holds its one).
type txConns struct {
	tx *sql.Tx
	c  *conns
}

// stmt is the query's prepared statement bound to the transaction, or nil.
func (t txConns) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st := t.c.cached(query, true)
	if st == nil {
		return nil, nil
	}
	return t.tx.StmtContext(ctx, st), nil
}

func (t txConns) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil || st != nil {
		return execStmt(ctx, st, err, args)
	}
	return t.tx.ExecContext(ctx, t.c.text(query), args...)
}

func (t txConns) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil || st != nil {
		return queryStmt(ctx, st, err, args)
	}
	return t.tx.QueryContext(ctx, t.c.text(query), args...)
}

func (t txConns) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	st, err := t.stmt(ctx, query)
	if err != nil || st != nil {
		return queryRowStmt(ctx, st, err, args)
	}
	return t.tx.QueryRowContext(ctx, t.c.text(query), args...)
}

func execStmt(ctx context.Context, st *sql.Stmt, err error, args []any) (sql.Result, error) {
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func queryStmt(ctx context.Context, st *sql.Stmt, err error, args []any) (*sql.Rows, error) {
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func queryRowStmt(ctx context.Context, st *sql.Stmt, err error, args []any) scanner {
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose query could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
