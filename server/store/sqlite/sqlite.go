// Package sqlite is slipway's embedded store: SQLite through
// modernc.org/sqlite (pure Go, no cgo) in WAL mode, with one writer
// connection and a separate pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store.
type Store struct {
	*sqlstore.DB
	writer *sql.DB
}

var _ store.Store = (*Store)(nil)

// Raw is the writer connection, for tests that look at what is stored.
func (s *Store) Raw() *sql.DB { return s.writer }

// The writer waits up to busyTimeout for another process's write lock
// before SQLite says "database is locked"; within this process the single
// writer connection already queues writes in database/sql.
const busyTimeout = "10000"

// dsn is a modernc.org/sqlite data source name. WAL lets readers go on
// while the writer writes. synchronous=NORMAL is WAL's usual setting: a
// killed process loses nothing committed; only a power cut can lose the
// last commits.
//
// The WAL is copied into the database file (a checkpoint, with two fsyncs)
// by the commit that takes it past wal_autocheckpoint pages. SQLite's 1000
// pages (4 MiB) meant a checkpoint every four 1 MiB log chunks, inside the
// runner's PATCH; 4096 pages (16 MiB) bounds the WAL still, with a quarter
// of the fsyncs, and the pages every chunk rewrites (its job's row, the
// index) are copied once per 16 MiB instead of once per 4.
func dsn(path string, readOnly bool) string {
	d := "file:" + path + "?_pragma=busy_timeout(" + busyTimeout + ")&_pragma=foreign_keys(1)"
	if readOnly {
		return d + "&_pragma=query_only(1)"
	}
	return d + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(4096)&_txlock=immediate"
}

// Open opens (creating if needed) the database file at path and brings
// its schema up to date. Secrets are sealed with sealer.
func Open(ctx context.Context, path string, sealer store.Sealer) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite %s: a database path with ? or # cannot be opened (they start a URI's query)", path)
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, err
	}
	// One writer: SQLite takes one write at a time anyway, and queueing
	// them here instead of in SQLite's lock is what keeps "database is
	// locked" away. _txlock=immediate takes the write lock at BEGIN, so a
	// transaction never fails halfway to upgrade its lock.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, goose.DialectSQLite3, w, migrations, "migrations"); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	r.SetMaxIdleConns(max(4, runtime.NumCPU())) // keeps their prepared statements
	db, err := sqlstore.New(w, r, sqlstore.Dialect{Prepare: true, Classify: classify}, sealer)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return &Store{DB: db, writer: w}, nil
}

// classify maps SQLite's constraint errors to the store's.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w (%v)", store.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w (%v)", store.ErrNotFound, err)
	}
	return err
}
