package store

import (
	"context"
	"errors"
)

// ManualJobs are GitLab's when: manual jobs: stored with the build, they
// wait in JobManual until someone plays them.
type ManualJobs interface {
	// Play moves a JobManual job to the queue (pending) and opens its
	// build again if it had finished without it, or was blocked by it.
	// It returns the job. ErrNotFound for an unknown job; ErrNotManual
	// for a job that is not waiting to be played (not manual, already
	// played, or canceled).
	Play(ctx context.Context, jobID int64) (Job, error)
}

// ErrNotManual is Play's answer for a job that is not waiting to be played.
var ErrNotManual = errors.New("job is not a manual job waiting to be played")
