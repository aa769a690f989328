package sqlstore

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

const buildCols = "id, repo_id, number, status, event, sender, ref, commit_sha, message, error, created, started, finished, before_sha, parent"

func scanBuild(s scanner) (store.Build, error) {
	var b store.Build
	var created, started, finished int64
	err := s.Scan(&b.ID, &b.RepoID, &b.Number, &b.Status, &b.Event, &b.Sender, &b.Ref, &b.Commit,
		&b.Message, &b.Error, &created, &started, &finished, &b.Before, &b.Parent)
	b.Created, b.Started, b.Finished = fromUnixNano(created), fromUnixNano(started), fromUnixNano(finished)
	return b, err
}

// CreateBuild implements store.Builds.
func (db *DB) CreateBuild(ctx context.Context, b store.Build, jobs []store.Job) (store.Build, []store.Job, error) {
	if err := store.CheckJobs(jobs); err != nil {
		return store.Build{}, nil, err
	}
	var out []store.Job
	err := db.inTx(ctx, func(tx querier) error {
		var err error
		if b, err = db.insertBuild(ctx, tx, b, len(jobs) == 0); err != nil {
			return err
		}
		for i, j := range jobs {
			if err := db.insertJob(ctx, tx, b.ID, i, j); err != nil {
				return err
			}
		}
		if len(jobs) > 0 {
			if err := db.settleBuild(ctx, tx, b.ID); err != nil {
				return err
			}
		}
		if b, err = scanBuild(tx.QueryRowContext(ctx, "SELECT "+buildCols+" FROM builds WHERE id = ?", b.ID)); err != nil {
			return err
		}
		out, err = db.jobs(ctx, tx, b.ID)
		return err
	})
	if err != nil {
		return store.Build{}, nil, fmt.Errorf("new build of repository %d: %w", b.RepoID, err)
	}
	db.queue.broadcast()
	return b, out, nil
}

// insertBuild numbers the build from the repository's counter (its row
// lock orders concurrent builds) and inserts it; a build without jobs is
// finished at once.
func (db *DB) insertBuild(ctx context.Context, tx querier, b store.Build, empty bool) (store.Build, error) {
	err := tx.QueryRowContext(ctx,
		"UPDATE repos SET build_counter = build_counter + 1 WHERE id = ? RETURNING build_counter",
		b.RepoID).Scan(&b.Number)
	if err != nil {
		return b, notFound(err, fmt.Sprintf("repository %d", b.RepoID))
	}
	created, finished := now(), int64(0)
	b.Status = store.BuildPending
	if empty {
		finished, b.Status = created, store.BuildSuccess
		if b.Error != "" {
			b.Status = store.BuildError
		}
	}
	err = tx.QueryRowContext(ctx,
		"INSERT INTO builds (repo_id, number, status, event, sender, ref, commit_sha, message, error, created, started, finished,"+
			" before_sha, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id",
		b.RepoID, b.Number, b.Status, b.Event, b.Sender, b.Ref, b.Commit, b.Message, b.Error,
		created, finished, b.Before, b.Parent).Scan(&b.ID)
	return b, err
}

func (db *DB) insertJob(ctx context.Context, tx querier, buildID int64, position int, j store.Job) error {
	if j.When == "" {
		j.When = store.OnSuccess
	}
	var id int64
	err := tx.QueryRowContext(ctx,
		"INSERT INTO jobs (build_id, position, name, stage, needs, run_when, allow_failure, tags, has_tags,"+
			" status, document, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
		buildID, position, j.Name, j.Stage, encodeList(j.Needs), j.When, j.AllowFailure,
		encodeList(j.Tags), len(j.Tags) > 0, store.JobCreated, j.Document, now()).Scan(&id)
	if err != nil {
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	for _, tag := range j.Tags {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO job_tags (job_id, tag) VALUES (?, ?) ON CONFLICT (job_id, tag) DO NOTHING", id, tag); err != nil {
			return fmt.Errorf("job %s, tag %s: %w", j.Name, tag, err)
		}
	}
	return nil
}

// lockBuild takes the build's row lock. Every transaction that moves a
// build's jobs on takes it first, so they never see each other half-done
// and never lock in opposite orders.
func (db *DB) lockBuild(ctx context.Context, tx querier, buildID int64) error {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM builds WHERE id = ?"+db.d.LockRow, buildID).Scan(&id)
	return notFound(err, fmt.Sprintf("build %d", buildID))
}

// settleBuild moves waiting jobs on (store.Advance) and finishes the build
// once every job is done. The caller holds the build's lock.
func (db *DB) settleBuild(ctx context.Context, tx querier, buildID int64) error {
	jobs, err := db.jobs(ctx, tx, buildID)
	if err != nil {
		return err
	}
	changed := store.Advance(jobs)
	for _, c := range changed {
		finished := int64(0)
		if c.Status.Done() {
			finished = now()
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE jobs SET status = ?, upstream_failed = ?, finished = ? WHERE id = ?",
			c.Status, c.UpstreamFailed, finished, c.ID); err != nil {
			return err
		}
		for i := range jobs {
			if jobs[i].ID == c.ID {
				jobs[i] = c
			}
		}
	}
	if started := firstStart(jobs); started != 0 {
		if err := db.stampStarted(ctx, tx, buildID, started); err != nil {
			return err
		}
	}
	status, done := store.Outcome(jobs)
	if !done {
		return db.markBlocked(ctx, tx, buildID, jobs)
	}
	_, err = tx.ExecContext(ctx,
		"UPDATE builds SET status = ?, finished = ? WHERE id = ? AND finished = 0", status, now(), buildID)
	return err
}

// Build implements store.Builds.
func (db *DB) Build(ctx context.Context, repoID, number int64) (store.Build, error) {
	b, err := scanBuild(db.r.QueryRowContext(ctx,
		"SELECT "+buildCols+" FROM builds WHERE repo_id = ? AND number = ?", repoID, number))
	return b, notFound(err, fmt.Sprintf("build %d", number))
}

// BuildByID implements store.Builds.
func (db *DB) BuildByID(ctx context.Context, id int64) (store.Build, error) {
	b, err := scanBuild(db.r.QueryRowContext(ctx,
		"SELECT "+buildCols+" FROM builds WHERE id = ?", id))
	return b, notFound(err, fmt.Sprintf("build id %d", id))
}

// ListBuilds implements store.Builds.
func (db *DB) ListBuilds(ctx context.Context, repoID int64, page, perPage int) ([]store.Build, error) {
	page, perPage = max(page, 1), max(perPage, 1)
	rows, err := db.r.QueryContext(ctx,
		"SELECT "+buildCols+" FROM builds WHERE repo_id = ? ORDER BY number DESC LIMIT ? OFFSET ?",
		repoID, perPage, (page-1)*perPage)
	return collect(rows, err, scanBuild)
}

// Jobs implements store.Builds.
func (db *DB) Jobs(ctx context.Context, buildID int64) ([]store.Job, error) {
	return db.jobs(ctx, db.r, buildID)
}

func (db *DB) jobs(ctx context.Context, q querier, buildID int64) ([]store.Job, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT "+jobCols+" FROM jobs WHERE build_id = ? ORDER BY position", buildID)
	return collect(rows, err, scanJob)
}

// Job implements store.Builds.
func (db *DB) Job(ctx context.Context, id int64) (store.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?", id))
	return j, notFound(err, fmt.Sprintf("job %d", id))
}

// CancelBuild implements store.Builds. Manual jobs not played are
// canceled too, even in a finished build: a canceled build runs nothing
// more.
func (db *DB) CancelBuild(ctx context.Context, buildID int64) error {
	return db.inTx(ctx, func(tx querier) error {
		if err := db.lockBuild(ctx, tx, buildID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE jobs SET status = 'canceled', finished = ? WHERE build_id = ? AND status IN ('created', 'pending', 'manual')",
			now(), buildID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE jobs SET cancel_requested = TRUE WHERE build_id = ? AND status = 'running'", buildID); err != nil {
			return err
		}
		return db.settleBuild(ctx, tx, buildID)
	})
}

// CountJobs implements store.Builds.
func (db *DB) CountJobs(ctx context.Context) (map[store.JobStatus]int64, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT status, COUNT(*) FROM jobs GROUP BY status")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[store.JobStatus]int64{}
	for rows.Next() {
		var s store.JobStatus
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		counts[s] = n
	}
	return counts, rows.Err()
}

// firstStart is when the build's first job started (0: none has).
func firstStart(jobs []store.Job) int64 {
	var first int64
	for _, j := range jobs {
		if t := unixNano(j.Started); t != 0 && (first == 0 || t < first) {
			first = t
		}
	}
	return first
}
