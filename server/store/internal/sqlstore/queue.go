package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

const jobCols = "id, build_id, name, stage, needs, run_when, allow_failure, tags, status, document," +
	" runner_id, lease_expires, requeues, cancel_requested, exit_code, failure_reason, upstream_failed," +
	" log_length, created, started, finished"

func scanJob(s scanner) (store.Job, error) {
	var j store.Job
	var needs, tags string
	var lease, created, started, finished int64
	if err := s.Scan(&j.ID, &j.BuildID, &j.Name, &j.Stage, &needs, &j.When, &j.AllowFailure, &tags,
		&j.Status, &j.Document, &j.RunnerID, &lease, &j.Requeues, &j.CancelRequested, &j.ExitCode,
		&j.FailureReason, &j.UpstreamFailed, &j.LogLength, &created, &started, &finished); err != nil {
		return j, err
	}
	j.LeaseExpires, j.Created = fromUnixNano(lease), fromUnixNano(created)
	j.Started, j.Finished = fromUnixNano(started), fromUnixNano(finished)
	var err error
	if j.Needs, err = decodeList(needs); err != nil {
		return j, err
	}
	j.Tags, err = decodeList(tags)
	return j, err
}

// Claim implements store.Queue. One statement picks and leases the job, so
// it is one transaction on either database: on PostgreSQL the subquery's
// FOR UPDATE SKIP LOCKED lets concurrent claimers take different jobs
// without waiting; on SQLite the single writer connection serializes them.
func (db *DB) Claim(ctx context.Context, runnerID int64, tags []string, runUntagged bool, lease time.Duration) (store.Claimed, error) {
	token := newToken("glcbt-")
	start := now()
	args := []any{runnerID, store.HashToken(token), start + int64(lease), start, runUntagged}
	tagRule := "NOT j.has_tags"
	if len(tags) > 0 {
		tagRule = "NOT EXISTS (SELECT 1 FROM job_tags t WHERE t.job_id = j.id AND t.tag NOT IN (" +
			strings.Repeat("?, ", len(tags)-1) + "?))"
		for _, t := range tags {
			args = append(args, t)
		}
	}
	j, err := scanJob(db.w.QueryRowContext(ctx,
		"UPDATE jobs SET status = 'running', runner_id = ?, token_hash = ?, lease_expires = ?, started = ?,"+
			" cancel_requested = FALSE"+
			" WHERE status = 'pending' AND id = (SELECT j.id FROM jobs j WHERE j.status = 'pending'"+
			" AND (j.has_tags OR ?) AND "+tagRule+" ORDER BY j.id LIMIT 1"+db.d.SkipLocked+")"+
			" RETURNING "+jobCols, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Claimed{}, store.ErrNoJob
	}
	if err != nil {
		return store.Claimed{}, fmt.Errorf("claim a job for runner %d: %w", runnerID, err)
	}
	// The build's start is stamped after the claim, outside its
	// transaction, so that a claim never waits for a build's lock. The
	// job is the runner's now whatever happens to the stamp: its error is
	// dropped, and the build's next change (settleBuild) stamps it.
	_ = db.stampStarted(context.WithoutCancel(ctx), db.w, j.BuildID, start)
	return store.Claimed{Job: j, Token: token}, nil
}

// stampStarted marks a pending build running since at.
func (db *DB) stampStarted(ctx context.Context, q querier, buildID, at int64) error {
	_, err := q.ExecContext(ctx,
		"UPDATE builds SET status = 'running', started = ? WHERE id = ? AND status = 'pending'", at, buildID)
	return err
}

// JobByToken implements store.Queue.
func (db *DB) JobByToken(ctx context.Context, token string) (store.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx,
		"SELECT "+jobCols+" FROM jobs WHERE token_hash = ? AND status = 'running'", store.HashToken(token)))
	return j, notFound(err, "running job token")
}

// Renew implements store.Queue.
func (db *DB) Renew(ctx context.Context, jobID, runnerID int64, lease time.Duration) (store.Job, error) {
	j, err := scanJob(db.w.QueryRowContext(ctx,
		"UPDATE jobs SET lease_expires = ? WHERE id = ? AND runner_id = ? AND status = 'running'"+
			" RETURNING "+jobCols, now()+int64(lease), jobID, runnerID))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("renew job %d: %w", jobID, store.ErrLeaseLost)
	}
	return j, err
}

// Finish implements store.Queue.
func (db *DB) Finish(ctx context.Context, jobID, runnerID int64, r store.Result) error {
	switch r.Status {
	case store.JobSuccess, store.JobFailed, store.JobCanceled:
	default:
		return fmt.Errorf("finish job %d: %q is not a final status", jobID, r.Status)
	}
	defer db.queue.broadcast() // its successors may be pending now
	return db.inTx(ctx, func(tx querier) error {
		buildID, err := db.lockJobBuild(ctx, tx, jobID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			"UPDATE jobs SET status = ?, exit_code = ?, failure_reason = ?, finished = ?, lease_expires = 0"+
				" WHERE id = ? AND runner_id = ? AND status = 'running'",
			r.Status, r.ExitCode, r.FailureReason, now(), jobID, runnerID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("finish job %d: %w", jobID, store.ErrLeaseLost))
		}
		return db.settleBuild(ctx, tx, buildID)
	})
}

// lockJobBuild locks the build of a job and returns its id, in one
// statement.
func (db *DB) lockJobBuild(ctx context.Context, tx querier, jobID int64) (int64, error) {
	var buildID int64
	err := tx.QueryRowContext(ctx,
		"SELECT id FROM builds WHERE id = (SELECT build_id FROM jobs WHERE id = ?)"+db.d.LockRow, jobID).Scan(&buildID)
	return buildID, notFound(err, fmt.Sprintf("job %d", jobID))
}

// ExpireLeases implements store.Queue, one transaction per lapsed job.
func (db *DB) ExpireLeases(ctx context.Context, at time.Time) ([]store.Job, error) {
	rows, err := db.w.QueryContext(ctx,
		"SELECT id FROM jobs WHERE status = 'running' AND lease_expires < ? ORDER BY id", unixNano(at))
	ids, err := collect(rows, err, func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("expire leases: %w", err)
	}
	var out []store.Job
	for _, id := range ids {
		j, ok, err := db.expire(ctx, id, unixNano(at))
		if err != nil {
			return out, fmt.Errorf("expire the lease of job %d: %w", id, err)
		}
		if ok {
			out = append(out, j)
		}
	}
	if len(out) > 0 {
		db.queue.broadcast() // requeued jobs, or successors of failed ones
	}
	return out, nil
}

// expire requeues or fails one job whose lease lapsed before at; ok is
// false when its runner renewed or finished it in the meantime.
func (db *DB) expire(ctx context.Context, jobID, at int64) (j store.Job, ok bool, err error) {
	err = db.inTx(ctx, func(tx querier) error {
		buildID, err := db.lockJobBuild(ctx, tx, jobID)
		if err != nil {
			return err
		}
		var maxRequeues int
		if err := tx.QueryRowContext(ctx,
			"SELECT r.max_requeues FROM builds b JOIN repos r ON r.id = b.repo_id WHERE b.id = ?",
			buildID).Scan(&maxRequeues); err != nil {
			return err
		}
		j, err = scanJob(tx.QueryRowContext(ctx,
			"UPDATE jobs SET"+
				" status = CASE WHEN requeues < ? THEN 'pending' ELSE 'failed' END,"+
				" failure_reason = CASE WHEN requeues < ? THEN '' ELSE 'runner lost' END,"+
				" finished = CASE WHEN requeues < ? THEN 0 ELSE CAST(? AS BIGINT) END,"+
				" requeues = CASE WHEN requeues < ? THEN requeues + 1 ELSE requeues END,"+
				// A requeued job starts its log again: the next runner
				// sends its own from offset 0.
				" log_length = CASE WHEN requeues < ? THEN 0 ELSE log_length END,"+
				" runner_id = 0, token_hash = NULL, lease_expires = 0, cancel_requested = FALSE"+
				" WHERE id = ? AND status = 'running' AND lease_expires < ? RETURNING "+jobCols,
			maxRequeues, maxRequeues, maxRequeues, now(), maxRequeues, maxRequeues, jobID, at))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		if j.Status == store.JobPending {
			if _, err := tx.ExecContext(ctx, "DELETE FROM log_chunks WHERE job_id = ?", jobID); err != nil {
				return err
			}
		}
		return db.settleBuild(ctx, tx, buildID)
	})
	return j, ok, err
}
