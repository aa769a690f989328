package sqlstore

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

// secretAAD binds a sealed value to its repository and name.
func secretAAD(repoID int64, name string) []byte {
	return fmt.Appendf(nil, "slipway secret %d/%s", repoID, name)
}

// PutSecret implements store.Repos.
func (db *DB) PutSecret(ctx context.Context, repoID int64, s store.Secret) error {
	if s.Name == "" {
		return fmt.Errorf("a secret needs a name")
	}
	sealed, err := db.sealer.Seal([]byte(s.Value), secretAAD(repoID, s.Name))
	if err != nil {
		return fmt.Errorf("seal secret %s: %w", s.Name, err)
	}
	_, err = db.w.ExecContext(ctx,
		"INSERT INTO secrets (repo_id, name, sealed, pull_request) VALUES (?, ?, ?, ?)"+
			" ON CONFLICT (repo_id, name) DO UPDATE SET sealed = excluded.sealed, pull_request = excluded.pull_request",
		repoID, s.Name, sealed, s.PullRequest)
	if err != nil {
		return fmt.Errorf("secret %s of repository %d: %w", s.Name, repoID, db.d.Classify(err))
	}
	return nil
}

// ListSecrets implements store.Repos: it never reads the sealed values.
func (db *DB) ListSecrets(ctx context.Context, repoID int64) ([]store.Secret, error) {
	rows, err := db.r.QueryContext(ctx,
		"SELECT name, pull_request FROM secrets WHERE repo_id = ? ORDER BY name", repoID)
	return collect(rows, err, func(s scanner) (store.Secret, error) {
		var sec store.Secret
		return sec, s.Scan(&sec.Name, &sec.PullRequest)
	})
}

// RevealSecrets implements store.Repos.
func (db *DB) RevealSecrets(ctx context.Context, repoID int64) ([]store.Secret, error) {
	rows, err := db.r.QueryContext(ctx,
		"SELECT name, pull_request, sealed FROM secrets WHERE repo_id = ? ORDER BY name", repoID)
	return collect(rows, err, func(s scanner) (store.Secret, error) {
		var sec store.Secret
		var sealed []byte
		if err := s.Scan(&sec.Name, &sec.PullRequest, &sealed); err != nil {
			return sec, err
		}
		plain, err := db.sealer.Open(sealed, secretAAD(repoID, sec.Name))
		if err != nil {
			return sec, fmt.Errorf("open secret %s: %w", sec.Name, err)
		}
		sec.Value = string(plain)
		return sec, nil
	})
}

// DeleteSecret implements store.Repos.
func (db *DB) DeleteSecret(ctx context.Context, repoID int64, name string) error {
	return db.exec(ctx, db.w, "secret "+name,
		"DELETE FROM secrets WHERE repo_id = ? AND name = ?", repoID, name)
}

// PutVariable implements store.Repos.
func (db *DB) PutVariable(ctx context.Context, repoID int64, v store.Variable) error {
	if v.Name == "" {
		return fmt.Errorf("a variable needs a name")
	}
	_, err := db.w.ExecContext(ctx,
		"INSERT INTO variables (repo_id, name, value, masked) VALUES (?, ?, ?, ?)"+
			" ON CONFLICT (repo_id, name) DO UPDATE SET value = excluded.value, masked = excluded.masked",
		repoID, v.Name, v.Value, v.Masked)
	if err != nil {
		return fmt.Errorf("variable %s of repository %d: %w", v.Name, repoID, db.d.Classify(err))
	}
	return nil
}

// ListVariables implements store.Repos.
func (db *DB) ListVariables(ctx context.Context, repoID int64) ([]store.Variable, error) {
	rows, err := db.r.QueryContext(ctx,
		"SELECT name, value, masked FROM variables WHERE repo_id = ? ORDER BY name", repoID)
	return collect(rows, err, func(s scanner) (store.Variable, error) {
		var v store.Variable
		return v, s.Scan(&v.Name, &v.Value, &v.Masked)
	})
}

// DeleteVariable implements store.Repos.
func (db *DB) DeleteVariable(ctx context.Context, repoID int64, name string) error {
	return db.exec(ctx, db.w, "variable "+name,
		"DELETE FROM variables WHERE repo_id = ? AND name = ?", repoID, name)
}
