package sqlstore

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

const repoCols = "id, owner_id, namespace, name, trusted, config_path, clone_url, max_requeues, created"

func scanRepo(s scanner) (store.Repo, error) {
	var r store.Repo
	var created int64
	err := s.Scan(&r.ID, &r.OwnerID, &r.Namespace, &r.Name, &r.Trusted, &r.ConfigPath,
		&r.CloneURL, &r.MaxRequeues, &created)
	r.Created = fromUnixNano(created)
	return r, err
}

// CreateRepo implements store.Repos.
func (db *DB) CreateRepo(ctx context.Context, r store.Repo) (store.Repo, error) {
	if r.Namespace == "" || r.Name == "" {
		return store.Repo{}, fmt.Errorf("a repository needs a namespace and a name")
	}
	if r.MaxRequeues < 0 {
		r.MaxRequeues = 1
	}
	created := now()
	err := db.w.QueryRowContext(ctx,
		"INSERT INTO repos (owner_id, namespace, name, trusted, config_path, clone_url, max_requeues, build_counter, created)"+
			" VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id",
		r.OwnerID, r.Namespace, r.Name, r.Trusted, r.ConfigPath, r.CloneURL, r.MaxRequeues, created).Scan(&r.ID)
	if err != nil {
		return store.Repo{}, fmt.Errorf("repository %s: %w", r.Slug(), db.d.Classify(err))
	}
	r.Created = fromUnixNano(created)
	return r, nil
}

// Repo implements store.Repos.
func (db *DB) Repo(ctx context.Context, namespace, name string) (store.Repo, error) {
	r, err := scanRepo(db.r.QueryRowContext(ctx,
		"SELECT "+repoCols+" FROM repos WHERE namespace = ? AND name = ?", namespace, name))
	return r, notFound(err, "repository "+namespace+"/"+name)
}

// RepoByID implements store.Repos.
func (db *DB) RepoByID(ctx context.Context, id int64) (store.Repo, error) {
	r, err := scanRepo(db.r.QueryRowContext(ctx,
		"SELECT "+repoCols+" FROM repos WHERE id = ?", id))
	return r, notFound(err, fmt.Sprintf("repository %d", id))
}

// ListRepos implements store.Repos.
func (db *DB) ListRepos(ctx context.Context, userID int64) ([]store.Repo, error) {
	query, args := "SELECT "+repoCols+" FROM repos", []any{}
	if userID != 0 {
		query += " WHERE owner_id = ? OR id IN (SELECT repo_id FROM repo_members WHERE user_id = ?)"
		args = append(args, userID, userID)
	}
	rows, err := db.r.QueryContext(ctx, query+" ORDER BY namespace, name", args...)
	return collect(rows, err, scanRepo)
}

// UpdateRepo implements store.Repos.
func (db *DB) UpdateRepo(ctx context.Context, r store.Repo) error {
	return db.exec(ctx, db.w, "repository "+r.Slug(),
		"UPDATE repos SET owner_id = ?, namespace = ?, name = ?, trusted = ?, config_path = ?,"+
			" clone_url = ?, max_requeues = ? WHERE id = ?",
		r.OwnerID, r.Namespace, r.Name, r.Trusted, r.ConfigPath, r.CloneURL, r.MaxRequeues, r.ID)
}

// DeleteRepo implements store.Repos; the schema's cascades remove the rest.
func (db *DB) DeleteRepo(ctx context.Context, id int64) error {
	return db.exec(ctx, db.w, fmt.Sprintf("repository %d", id), "DELETE FROM repos WHERE id = ?", id)
}

// GrantRepo implements store.Repos.
func (db *DB) GrantRepo(ctx context.Context, repoID, userID int64) error {
	_, err := db.w.ExecContext(ctx,
		"INSERT INTO repo_members (repo_id, user_id) VALUES (?, ?) ON CONFLICT (repo_id, user_id) DO NOTHING",
		repoID, userID)
	if err != nil {
		return fmt.Errorf("grant repository %d to user %d: %w", repoID, userID, db.d.Classify(err))
	}
	return nil
}
