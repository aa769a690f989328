package store

import (
	"context"
	"time"
)

// Sessions are the web interface's sign-ins: the browser's cookie holds a
// random session id (kept hashed, like tokens), never the API token the
// user signed in with, and signing out deletes the session.
type Sessions interface {
	// CreateSession stores a session id for the user, valid until expires.
	CreateSession(ctx context.Context, id string, userID int64, expires time.Time) error
	// SessionUser is the user of a session that has not expired at now.
	// ErrNotFound for an unknown or expired one.
	SessionUser(ctx context.Context, id string, now time.Time) (User, error)
	// DeleteSession ends a session; an unknown id is not an error.
	DeleteSession(ctx context.Context, id string) error
}

// RunningJobs lists the jobs that run now (the web interface's runners
// page shows each runner's current job).
type RunningJobs interface {
	RunningJobs(ctx context.Context) ([]Job, error)
}
