// Package sqlstore is the store written once in SQL that SQLite and
// PostgreSQL both accept; a Dialect carries the few differences (parameter
// markers, row locks, error codes). server/store/sqlite and
// server/store/postgres open the databases, run their migrations and hand
// the connections to New.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// Dialect is what differs between the databases.
type Dialect struct {
	// Numbered parameters ($1, $2, ...) instead of "?".
	Numbered bool
	// Prepare keeps every query prepared on the pools (see conns).
	Prepare bool
	// SkipLocked ends the claim's job-picking subquery, so concurrent
	// claimers pass over each other's rows instead of queueing on them
	// (PostgreSQL). Empty where one writer already serializes claims.
	SkipLocked string
	// LockRow ends the SELECT that locks a build row while its jobs move
	// on, so two jobs finishing at once see each other (PostgreSQL).
	LockRow string
	// Classify maps a unique violation to store.ErrConflict and a foreign
	// key violation to store.ErrNotFound; other errors are returned as is.
	Classify func(error) error
}

// DB implements store.Store on a writer and a reader connection pool (the
// same pool where the database allows concurrent writers).
type DB struct {
	w, r   *conns
	d      Dialect
	sealer store.Sealer
	queue  *wakeups
}

// New wraps open, migrated databases. Close closes both pools.
func New(writer, reader *sql.DB, d Dialect, sealer store.Sealer) (*DB, error) {
	if sealer == nil {
		return nil, errors.New("store: a sealer for secrets is required")
	}
	db := &DB{w: newConns(writer, d.Numbered, d.Prepare), d: d, sealer: sealer, queue: newWakeups()}
	db.r = db.w
	if reader != writer {
		db.r = newConns(reader, d.Numbered, d.Prepare)
	}
	return db, nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	err := db.w.close()
	if db.r != db.w {
		err = errors.Join(err, db.r.close())
	}
	return err
}

// inTx runs fn in a write transaction, committed when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(querier) error) error {
	tx, err := db.w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = fn(txConns{tx: tx, c: db.w})
	if err != nil {
		_ = tx.Rollback()
	} else {
		err = tx.Commit()
	}
	db.w.preparePending(ctx)
	return err
}

// exec runs a statement that must change a row; ErrNotFound (wrapped with
// what) when it changes none.
func (db *DB) exec(ctx context.Context, q querier, what, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return db.d.Classify(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// notFound turns sql.ErrNoRows into store.ErrNotFound, saying what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Times are stored as Unix nanoseconds, 0 for none: one integer type that
// both databases compare and index the same way.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func now() int64 { return time.Now().UnixNano() }

// Short string lists (tags, needs) are stored as JSON text.
func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// newToken mints a random token with GitLab's prefix for its kind.
func newToken(prefix string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}
