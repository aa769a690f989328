package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// CreateSession implements store.Sessions. Expired sessions are removed
// here, so the table does not grow with sessions nobody signed out of.
func (db *DB) CreateSession(ctx context.Context, id string, userID int64, expires time.Time) error {
	if id == "" {
		return fmt.Errorf("a session needs an id")
	}
	return db.inTx(ctx, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires < ?", now()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO sessions (id_hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
			store.HashToken(id), userID, now(), unixNano(expires))
		return db.d.Classify(err)
	})
}

// SessionUser implements store.Sessions.
func (db *DB) SessionUser(ctx context.Context, id string, at time.Time) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx,
		"SELECT users.id, users.login, users.admin, users.created FROM sessions JOIN users ON users.id = sessions.user_id"+
			" WHERE sessions.id_hash = ? AND sessions.expires > ?", store.HashToken(id), unixNano(at)))
	return u, notFound(err, "session")
}

// DeleteSession implements store.Sessions.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", store.HashToken(id))
	return err
}

// RunningJobs implements store.RunningJobs.
func (db *DB) RunningJobs(ctx context.Context) ([]store.Job, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+jobCols+" FROM jobs WHERE status = 'running' ORDER BY id")
	return collect(rows, err, scanJob)
}
