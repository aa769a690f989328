package sqlstore

import (
	"context"
	"fmt"
)

// hookAAD binds a sealed webhook secret to its repository.
func hookAAD(repoID int64) []byte {
	return fmt.Appendf(nil, "slipway webhook secret %d", repoID)
}

// SetHookSecret implements store.Hooks.
func (db *DB) SetHookSecret(ctx context.Context, repoID int64, secret string) error {
	if secret == "" {
		return fmt.Errorf("a webhook secret may not be empty")
	}
	sealed, err := db.sealer.Seal([]byte(secret), hookAAD(repoID))
	if err != nil {
		return fmt.Errorf("seal the webhook secret: %w", err)
	}
	_, err = db.w.ExecContext(ctx,
		"INSERT INTO repo_hooks (repo_id, sealed) VALUES (?, ?)"+
			" ON CONFLICT (repo_id) DO UPDATE SET sealed = excluded.sealed", repoID, sealed)
	if err != nil {
		return fmt.Errorf("webhook secret of repository %d: %w", repoID, db.d.Classify(err))
	}
	return nil
}

// HookSecret implements store.Hooks.
func (db *DB) HookSecret(ctx context.Context, repoID int64) (string, error) {
	var sealed []byte
	err := db.r.QueryRowContext(ctx, "SELECT sealed FROM repo_hooks WHERE repo_id = ?", repoID).Scan(&sealed)
	if err != nil {
		return "", notFound(err, fmt.Sprintf("webhook secret of repository %d", repoID))
	}
	plain, err := db.sealer.Open(sealed, hookAAD(repoID))
	if err != nil {
		return "", fmt.Errorf("open the webhook secret of repository %d: %w", repoID, err)
	}
	return string(plain), nil
}

// DeleteHookSecret implements store.Hooks.
func (db *DB) DeleteHookSecret(ctx context.Context, repoID int64) error {
	return db.exec(ctx, db.w, fmt.Sprintf("webhook secret of repository %d", repoID),
		"DELETE FROM repo_hooks WHERE repo_id = ?", repoID)
}
