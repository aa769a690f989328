// Package postgres is slipway's store on PostgreSQL, through pgx's
// connection pool (github.com/jackc/pgx/v5/pgxpool).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store.
type Store struct {
	*sqlstore.DB
	pool *pgxpool.Pool
	db   *sql.DB
}

var _ store.Store = (*Store)(nil)

// Raw is a database/sql handle on the pool, for tests that look at what
// is stored.
func (s *Store) Raw() *sql.DB { return s.db }

// Close closes the database/sql handle and the pool under it.
func (s *Store) Close() error {
	err := s.DB.Close()
	s.pool.Close()
	return err
}

// Open connects to the database at url (postgres://...; a search_path
// parameter selects a schema) and brings its schema up to date. Secrets
// are sealed with sealer.
func Open(ctx context.Context, url string, sealer store.Sealer) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// database/sql on top of the pool, so the SQL is shared with SQLite;
	// the pool still owns the connections.
	db := stdlib.OpenDBFromPool(pool)
	if err := sqlstore.Migrate(ctx, goose.DialectPostgres, db, migrations, "migrations"); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := sqlstore.New(db, db, sqlstore.Dialect{
		Numbered:   true,
		SkipLocked: " FOR UPDATE SKIP LOCKED",
		LockRow:    " FOR UPDATE",
		Classify:   classify,
	}, sealer)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return &Store{DB: s, pool: pool, db: db}, nil
}

// classify maps PostgreSQL's constraint errors to the store's.
func classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w (%v)", store.ErrConflict, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w (%v)", store.ErrNotFound, err)
	}
	return err
}
