package store

import (
	"context"
	"io"
	"time"
)

// Artifacts are the archives jobs upload (GitLab's POST jobs/:id/artifacts)
// for later jobs of their build to download. They are kept in the database
// with the job, in chunks: a server that shares PostgreSQL with others
// serves every archive, a deleted repository takes its archives with it,
// and no file on disk can outlive or miss its row.
type Artifacts interface {
	// PutArtifact stores the job's archive, read from r to its end,
	// replacing any the job had, and returns it described. The write
	// transaction is open while r is read: pass a local file, not a
	// network stream. ErrNotFound when the job does not exist.
	PutArtifact(ctx context.Context, a Artifact, r io.Reader) (Artifact, error)
	// Artifact describes the job's archive; ErrNotFound when it has none.
	Artifact(ctx context.Context, jobID int64) (Artifact, error)
	// ReadArtifact writes the job's archive to w, a chunk at a time.
	ReadArtifact(ctx context.Context, jobID int64, w io.Writer) error
	// DeleteExpiredArtifacts deletes the archives (rows and chunks) that
	// expired before now, and says how many; one without an expiry stays.
	DeleteExpiredArtifacts(ctx context.Context, now time.Time) (int64, error)
}

// Artifact describes a job's artifacts archive.
type Artifact struct {
	JobID    int64
	Filename string // as uploaded, e.g. artifacts.zip
	Format   string // zip, gzip or raw (GitLab's artifact_format)
	Size     int64
	SHA256   string // hex, of the whole archive
	Expires  time.Time
	Created  time.Time
}

// Wakeups tell waiting claimers that the queue may hold a job for them.
type Wakeups interface {
	// QueueChanged returns a channel closed the next time this store
	// makes a job pending (a new build, a finished need, a requeue).
	// Another process sharing the database does not close it: claimers
	// keep a slow poll as well.
	QueueChanged() <-chan struct{}
}
