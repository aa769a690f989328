package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/slipway-ci/slipway/server/store"
)

// artifactChunk is the most of an archive one row holds: reads and writes
// hold one chunk in memory, never the archive.
const artifactChunk = 1 << 20

// PutArtifact implements store.Artifacts: the old archive's rows go and
// the new one's come in one transaction, so a reader sees one or the other.
func (db *DB) PutArtifact(ctx context.Context, a store.Artifact, r io.Reader) (store.Artifact, error) {
	a.Created = fromUnixNano(now())
	err := db.inTx(ctx, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM artifacts WHERE job_id = ?", a.JobID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO artifacts (job_id, filename, format, size, sha256, chunks, expires, created) VALUES (?, ?, ?, 0, '', 0, ?, ?)",
			a.JobID, a.Filename, a.Format, unixNano(a.Expires), unixNano(a.Created)); err != nil {
			return db.d.Classify(err)
		}
		h := sha256.New()
		buf := make([]byte, artifactChunk)
		var seq int64
		for a.Size = 0; ; seq++ {
			n, err := io.ReadFull(r, buf)
			if n > 0 {
				h.Write(buf[:n])
				a.Size += int64(n)
				if _, err := tx.ExecContext(ctx,
					"INSERT INTO artifact_chunks (job_id, seq, data) VALUES (?, ?, ?)", a.JobID, seq, buf[:n]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if n > 0 {
					seq++
				}
				break
			}
			if err != nil {
				return err
			}
		}
		a.SHA256 = hex.EncodeToString(h.Sum(nil))
		return db.exec(ctx, tx, fmt.Sprintf("artifacts of job %d", a.JobID),
			"UPDATE artifacts SET size = ?, sha256 = ?, chunks = ? WHERE job_id = ?", a.Size, a.SHA256, seq, a.JobID)
	})
	if err != nil {
		return store.Artifact{}, fmt.Errorf("store the artifacts of job %d: %w", a.JobID, err)
	}
	return a, nil
}

// Artifact implements store.Artifacts.
func (db *DB) Artifact(ctx context.Context, jobID int64) (store.Artifact, error) {
	a, _, err := db.artifact(ctx, jobID)
	return a, err
}

func (db *DB) artifact(ctx context.Context, jobID int64) (store.Artifact, int64, error) {
	a := store.Artifact{JobID: jobID}
	var chunks, expires, created int64
	err := db.r.QueryRowContext(ctx,
		"SELECT filename, format, size, sha256, chunks, expires, created FROM artifacts WHERE job_id = ?", jobID).
		Scan(&a.Filename, &a.Format, &a.Size, &a.SHA256, &chunks, &expires, &created)
	if err != nil {
		return a, 0, notFound(err, fmt.Sprintf("artifacts of job %d", jobID))
	}
	a.Expires, a.Created = fromUnixNano(expires), fromUnixNano(created)
	return a, chunks, nil
}

// ReadArtifact implements store.Artifacts, one chunk per query.
func (db *DB) ReadArtifact(ctx context.Context, jobID int64, w io.Writer) error {
	_, chunks, err := db.artifact(ctx, jobID)
	if err != nil {
		return err
	}
	for seq := range chunks {
		var data []byte
		err := db.r.QueryRowContext(ctx,
			"SELECT data FROM artifact_chunks WHERE job_id = ? AND seq = ?", jobID, seq).Scan(&data)
		if err != nil {
			// Replaced meanwhile: the reader has a torn archive and
			// must ask again.
			return notFound(err, fmt.Sprintf("chunk %d of the artifacts of job %d", seq, jobID))
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}
