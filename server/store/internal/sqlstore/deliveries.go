package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// ClaimDelivery implements store.Deliveries: the primary key decides
// between two copies of a delivery that arrive at once.
func (db *DB) ClaimDelivery(ctx context.Context, repoID int64, id string, at time.Time) (claimed bool, build int64, err error) {
	if id == "" {
		return false, 0, fmt.Errorf("a webhook delivery needs an id")
	}
	err = db.inTx(ctx, func(tx querier) error {
		res, err := tx.ExecContext(ctx,
			"INSERT INTO hook_deliveries (repo_id, delivery, received) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			repoID, id, unixNano(at))
		if err != nil {
			return db.d.Classify(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			claimed = n == 1
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT build FROM hook_deliveries WHERE repo_id = ? AND delivery = ?",
			repoID, id).Scan(&build)
	})
	if err != nil {
		return false, 0, fmt.Errorf("webhook delivery %s of repository %d: %w", id, repoID, err)
	}
	return claimed, build, nil
}

// SetDeliveryBuild implements store.Deliveries.
func (db *DB) SetDeliveryBuild(ctx context.Context, repoID int64, id string, build int64) error {
	return db.exec(ctx, db.w, fmt.Sprintf("webhook delivery %s of repository %d", id, repoID),
		"UPDATE hook_deliveries SET build = ? WHERE repo_id = ? AND delivery = ?", build, repoID, id)
}

// ReleaseDelivery implements store.Deliveries.
func (db *DB) ReleaseDelivery(ctx context.Context, repoID int64, id string) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM hook_deliveries WHERE repo_id = ? AND delivery = ?", repoID, id)
	return err
}

// PruneDeliveries implements store.Deliveries.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, "DELETE FROM hook_deliveries WHERE received < ?", unixNano(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
