package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

const runnerCols = "id, description, tags, run_untagged, created, contacted"

func scanRunner(s scanner) (store.Runner, error) {
	var r store.Runner
	var tags string
	var created, contacted int64
	if err := s.Scan(&r.ID, &r.Description, &tags, &r.RunUntagged, &created, &contacted); err != nil {
		return r, err
	}
	r.Created, r.Contacted = fromUnixNano(created), fromUnixNano(contacted)
	var err error
	r.Tags, err = decodeList(tags)
	return r, err
}

// CreateRunner implements store.Runners.
func (db *DB) CreateRunner(ctx context.Context, r store.Runner, token string) (store.Runner, error) {
	if token == "" {
		return store.Runner{}, fmt.Errorf("a runner needs a token")
	}
	created := now()
	err := db.w.QueryRowContext(ctx,
		"INSERT INTO runners (description, token_hash, tags, run_untagged, created, contacted)"+
			" VALUES (?, ?, ?, ?, ?, 0) RETURNING id",
		r.Description, store.HashToken(token), encodeList(r.Tags), r.RunUntagged, created).Scan(&r.ID)
	if err != nil {
		return store.Runner{}, fmt.Errorf("runner %q: %w", r.Description, db.d.Classify(err))
	}
	r.Created, r.Contacted = fromUnixNano(created), time.Time{}
	return r, nil
}

// RunnerByToken implements store.Runners.
func (db *DB) RunnerByToken(ctx context.Context, token string) (store.Runner, error) {
	r, err := scanRunner(db.r.QueryRowContext(ctx,
		"SELECT "+runnerCols+" FROM runners WHERE token_hash = ?", store.HashToken(token)))
	return r, notFound(err, "runner token")
}

// ListRunners implements store.Runners.
func (db *DB) ListRunners(ctx context.Context) ([]store.Runner, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+runnerCols+" FROM runners ORDER BY id")
	return collect(rows, err, scanRunner)
}

// DeleteRunner implements store.Runners. Jobs it holds keep running until
// their lease lapses.
func (db *DB) DeleteRunner(ctx context.Context, id int64) error {
	return db.exec(ctx, db.w, fmt.Sprintf("runner %d", id), "DELETE FROM runners WHERE id = ?", id)
}

// TouchRunner implements store.Runners.
func (db *DB) TouchRunner(ctx context.Context, id int64, at time.Time) error {
	return db.exec(ctx, db.w, fmt.Sprintf("runner %d", id),
		"UPDATE runners SET contacted = ? WHERE id = ?", unixNano(at), id)
}
