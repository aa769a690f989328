package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/slipway-ci/slipway/server/store"
)

// AppendLog implements store.Logs. The job row's log_length is the
// protocol's offset: the conditional update both checks and moves it, so
// two senders of the same range cannot both succeed.
func (db *DB) AppendLog(ctx context.Context, jobID, offset int64, data []byte) (int64, error) {
	end := offset + int64(len(data))
	err := db.inTx(ctx, func(tx querier) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE jobs SET log_length = ? WHERE id = ? AND log_length = ?", end, jobID, offset)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, db.offsetError(ctx, tx, jobID, offset))
		}
		if len(data) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO log_chunks (job_id, pos, end_pos, data) VALUES (?, ?, ?, ?)", jobID, offset, end, data)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append to the log of job %d: %w", jobID, err)
	}
	return end, nil
}

// offsetError says why a chunk was refused: no such job, or the length
// the sender must resume from.
func (db *DB) offsetError(ctx context.Context, tx querier, jobID, offset int64) error {
	var length int64
	err := tx.QueryRowContext(ctx, "SELECT log_length FROM jobs WHERE id = ?", jobID).Scan(&length)
	if err != nil {
		return notFound(err, fmt.Sprintf("job %d", jobID))
	}
	return &store.OffsetError{Offset: offset, Length: length}
}

// ReadLog implements store.Logs.
func (db *DB) ReadLog(ctx context.Context, jobID, offset int64, limit int) ([]byte, error) {
	// Only the chunks that start before offset+limit: the rest would be
	// sent by PostgreSQL and drained unread, the whole log on each read.
	before := int64(math.MaxInt64)
	if limit > 0 {
		before = offset + int64(limit)
	}
	rows, err := db.r.QueryContext(ctx,
		"SELECT pos, data FROM log_chunks WHERE job_id = ? AND end_pos > ? AND pos < ? ORDER BY pos", jobID, offset, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []byte{}
	for rows.Next() && (limit <= 0 || len(out) < limit) {
		var pos int64
		var data []byte
		if err := rows.Scan(&pos, &data); err != nil {
			return nil, err
		}
		if pos < offset {
			data = data[offset-pos:]
		}
		out = append(out, data...)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, rows.Err()
}
