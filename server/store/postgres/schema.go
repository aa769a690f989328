package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateSchema makes an empty schema with a random name starting with
// prefix in the database at baseURL, and returns the URL that opens a store
// in it (its search_path) and a function that drops it. Tests and
// benchmarks use it to share one database without seeing each other.
func CreateSchema(ctx context.Context, baseURL, prefix string) (string, func(context.Context) error, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", nil, fmt.Errorf("database URL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	schema := prefix + hex.EncodeToString(b)
	if err := execOnce(ctx, baseURL, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func(ctx context.Context) error { return execOnce(ctx, baseURL, "DROP SCHEMA "+schema+" CASCADE") }
	return u.String(), drop, nil
}

// execOnce runs one statement on a connection of its own.
func execOnce(ctx context.Context, url, stmt string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: %s: %w", stmt, err)
	}
	return nil
}
