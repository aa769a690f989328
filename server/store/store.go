// Package store is what slipway's server keeps: users, repositories with
// their secrets and variables, builds and their jobs, runners, and job logs.
// The job queue is the store too: a runner's claim is one transaction that
// leases a job row, so there is no separate broker to lose jobs in.
//
// Two implementations (server/store/sqlite, server/store/postgres) pass one
// conformance suite (server/store/storetest). Only server packages use it:
// runners and everything below them never learn about SQL.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Store is the server's state. Every method is safe for concurrent use.
type Store interface {
	Users
	Repos
	Builds
	Queue
	Runners
	Logs
	Hooks
	ManualJobs
	Sessions
	RunningJobs
	Artifacts
	Wakeups
	Deliveries
	// Close releases the database connections.
	Close() error
}

// Users are the people and scripts that call the server's API.
type Users interface {
	// CreateUser adds a user whose API token is token (stored hashed).
	// ErrConflict when the login is taken.
	CreateUser(ctx context.Context, u User, token string) (User, error)
	// UserByToken authenticates an API token. ErrNotFound if none matches.
	UserByToken(ctx context.Context, token string) (User, error)
	UserByLogin(ctx context.Context, login string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
}

// Repos are repositories with their settings, secrets and variables.
type Repos interface {
	// CreateRepo adds a repository. ErrConflict if namespace/name exists.
	CreateRepo(ctx context.Context, r Repo) (Repo, error)
	Repo(ctx context.Context, namespace, name string) (Repo, error)
	RepoByID(ctx context.Context, id int64) (Repo, error)
	// ListRepos lists every repository when userID is 0, else those the
	// user owns or was given (GrantRepo).
	ListRepos(ctx context.Context, userID int64) ([]Repo, error)
	// UpdateRepo writes every setting of r (found by r.ID).
	UpdateRepo(ctx context.Context, r Repo) error
	// DeleteRepo removes the repository with its secrets, variables,
	// builds, jobs and logs.
	DeleteRepo(ctx context.Context, id int64) error
	// GrantRepo gives a user who does not own the repository access to it.
	GrantRepo(ctx context.Context, repoID, userID int64) error

	// PutSecret adds or replaces a secret; its value is sealed before it
	// is written.
	PutSecret(ctx context.Context, repoID int64, s Secret) error
	// ListSecrets lists names and settings; Value is always empty.
	ListSecrets(ctx context.Context, repoID int64) ([]Secret, error)
	DeleteSecret(ctx context.Context, repoID int64, name string) error
	// RevealSecrets returns the values, for the job documents a build
	// sends to its runners. Nothing that answers an API call may use it.
	RevealSecrets(ctx context.Context, repoID int64) ([]Secret, error)

	PutVariable(ctx context.Context, repoID int64, v Variable) error
	ListVariables(ctx context.Context, repoID int64) ([]Variable, error)
	DeleteVariable(ctx context.Context, repoID int64, name string) error
}

// Builds are the runs of a repository's pipeline.
type Builds interface {
	// CreateBuild numbers a new build of b.RepoID and queues its jobs in
	// one transaction. Jobs whose Needs are all met become pending at
	// once. A build with no jobs is finished at once: BuildError when
	// b.Error is set (a pipeline file error), else successful.
	CreateBuild(ctx context.Context, b Build, jobs []Job) (Build, []Job, error)
	Build(ctx context.Context, repoID, number int64) (Build, error)
	BuildByID(ctx context.Context, id int64) (Build, error)
	// ListBuilds lists a repository's builds, newest first; page counts
	// from 1.
	ListBuilds(ctx context.Context, repoID int64, page, perPage int) ([]Build, error)
	// Jobs lists a build's jobs in the order they were given.
	Jobs(ctx context.Context, buildID int64) ([]Job, error)
	Job(ctx context.Context, id int64) (Job, error)
	// CancelBuild cancels the jobs that have not started and asks the
	// runners of running ones to stop (Job.CancelRequested).
	CancelBuild(ctx context.Context, buildID int64) error
	// CountJobs counts jobs by status, for metrics.
	CountJobs(ctx context.Context) (map[JobStatus]int64, error)
}

// Queue is how runners take jobs. A claimed job is leased: the runner keeps
// it by renewing the lease; ExpireLeases takes it back when it lapses.
type Queue interface {
	// Claim picks the oldest pending job this runner may take (see
	// MayRun) and leases it to the runner, in one transaction. It mints
	// the job's token, returned once in Claimed.Token. ErrNoJob when no
	// job fits.
	Claim(ctx context.Context, runnerID int64, tags []string, runUntagged bool, lease time.Duration) (Claimed, error)
	// JobByToken authenticates a job token. ErrNotFound for an unknown
	// token or a job that is no longer running.
	JobByToken(ctx context.Context, token string) (Job, error)
	// Renew extends the lease of a running job held by runnerID and
	// returns the job (whose CancelRequested the runner must hear about).
	// ErrLeaseLost when the runner no longer holds it.
	Renew(ctx context.Context, jobID, runnerID int64, lease time.Duration) (Job, error)
	// Finish records the result of a running job held by runnerID and
	// moves the build on. ErrLeaseLost when the runner no longer holds it.
	Finish(ctx context.Context, jobID, runnerID int64, r Result) error
	// ExpireLeases takes back every running job whose lease ended before
	// now: it is queued again while its requeues are below its
	// repository's MaxRequeues, else it fails with "runner lost". It
	// returns the jobs it took back.
	ExpireLeases(ctx context.Context, now time.Time) ([]Job, error)
}

// Runners are the agents that run jobs.
type Runners interface {
	// CreateRunner registers a runner authenticated by token (a glrt-
	// token, stored hashed). ErrConflict if the token is taken.
	CreateRunner(ctx context.Context, r Runner, token string) (Runner, error)
	RunnerByToken(ctx context.Context, token string) (Runner, error)
	ListRunners(ctx context.Context) ([]Runner, error)
	DeleteRunner(ctx context.Context, id int64) error
	// TouchRunner records that the runner was heard from at the time.
	TouchRunner(ctx context.Context, id int64, at time.Time) error
}

// Logs are job logs, appended in offset-addressed chunks as the GitLab
// trace protocol sends them.
type Logs interface {
	// AppendLog appends data at offset, which must equal the log's
	// current length (else an *OffsetError carrying it), and returns the
	// new length.
	AppendLog(ctx context.Context, jobID, offset int64, data []byte) (int64, error)
	// ReadLog returns up to limit bytes (0: all) from offset on.
	ReadLog(ctx context.Context, jobID, offset int64, limit int) ([]byte, error)
}

// Sealer encrypts secret values at rest (server/secretbox implements it
// with AES-GCM). aad binds a sealed value to where it is stored, so a
// value copied to another row does not open.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Errors the callers act on.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("already exists")
	ErrNoJob     = errors.New("no job for this runner")
	ErrLeaseLost = errors.New("job is not leased to this runner")
)

// OffsetError is AppendLog's answer to a chunk that does not start at the
// end of the log: the GitLab trace protocol's 416 with Range 0-Length.
type OffsetError struct {
	Offset, Length int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("log chunk at offset %d, but the log has %d bytes", e.Offset, e.Length)
}

// HashToken is how tokens are kept: they are long random strings, so a
// plain SHA-256 is enough to make a stolen table useless.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
