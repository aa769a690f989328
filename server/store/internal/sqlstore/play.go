package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

// Play implements store.ManualJobs.
func (db *DB) Play(ctx context.Context, jobID int64) (store.Job, error) {
	var j store.Job
	err := db.inTx(ctx, func(tx querier) error {
		buildID, err := db.lockJobBuild(ctx, tx, jobID)
		if err != nil {
			return err
		}
		j, err = scanJob(tx.QueryRowContext(ctx,
			"UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'manual' RETURNING "+jobCols, jobID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("play job %d: %w", jobID, store.ErrNotManual)
		}
		if err != nil {
			return err
		}
		// The build runs again: it had finished without the job (which
		// allowed failure) or was blocked by it. A build that never
		// started goes back to pending, so the claim stamps its start.
		if _, err := tx.ExecContext(ctx,
			"UPDATE builds SET finished = 0, status = CASE WHEN started = 0 THEN 'pending' ELSE 'running' END"+
				" WHERE id = ?", buildID); err != nil {
			return err
		}
		return db.settleBuild(ctx, tx, buildID)
	})
	if err == nil {
		db.queue.broadcast() // the played job is pending
	}
	return j, err
}

// markBlocked marks a build blocked when nothing can run until someone
// plays a manual job that does not allow failure (store.Blocked). The
// caller holds the build's lock.
func (db *DB) markBlocked(ctx context.Context, tx querier, buildID int64, jobs []store.Job) error {
	if !store.Blocked(jobs) {
		return nil
	}
	_, err := tx.ExecContext(ctx,
		"UPDATE builds SET status = ? WHERE id = ? AND finished = 0", store.BuildBlocked, buildID)
	return err
}
