package store

import (
	"slices"
	"time"
)

// User is someone who calls the server's API.
type User struct {
	ID      int64
	Login   string
	Admin   bool
	Created time.Time
}

// Repo is a repository and its settings.
type Repo struct {
	ID        int64
	OwnerID   int64 // the user who owns it
	Namespace string
	Name      string
	// Trusted admits what exec's --trusted admits; only administrators
	// may set it.
	Trusted bool
	// ConfigPath is the pipeline file: .gitlab-ci.yml, .drone.yml or a path.
	ConfigPath string
	// CloneURL is the remote a mirrored repository fetches from; empty
	// for one hosted by the server.
	CloneURL string
	// MaxRequeues is how often a job whose runner was lost is queued
	// again before it fails. CreateRepo takes a negative value as the
	// default, 1.
	MaxRequeues int
	Created     time.Time
}

// Slug is "namespace/name".
func (r Repo) Slug() string { return r.Namespace + "/" + r.Name }

// Secret is a repository secret. Value is empty in everything a list returns.
type Secret struct {
	Name  string
	Value string
	// PullRequest makes the secret available to pull request builds.
	PullRequest bool
}

// Variable is a repository variable (a GitLab project variable).
type Variable struct {
	Name   string
	Value  string
	Masked bool // masked in job logs
}

// BuildStatus is where a build is.
type BuildStatus string

// Build statuses.
const (
	BuildPending  BuildStatus = "pending"
	BuildRunning  BuildStatus = "running"
	BuildSuccess  BuildStatus = "success"
	BuildFailed   BuildStatus = "failure"
	BuildCanceled BuildStatus = "killed"
	// BuildBlocked is a build that waits for someone to play a manual job
	// that does not allow failure (GitLab's blocked pipeline; Drone's
	// word for a build that waits for approval). Nothing else runs.
	BuildBlocked BuildStatus = "blocked"
	// BuildError is a build that could not start: its pipeline file is
	// wrong (Build.Error says where).
	BuildError BuildStatus = "error"
)

// Build is one run of a repository's pipeline.
type Build struct {
	ID     int64
	RepoID int64
	Number int64 // counts from 1 per repository
	Status BuildStatus
	Event  string // push, pull_request, tag, api, custom, ...
	Sender string // who or what triggered it
	Ref    string
	Commit string
	// Before is the ref's value before the push (empty: unknown, or a
	// new ref), which GitLab's rules: changes compares with.
	Before  string
	Message string
	// Parent is the number of the build this one restarts (0: none).
	Parent int64
	// Error is why the build failed before any job ran (a pipeline file
	// error with file:line:column).
	Error    string
	Created  time.Time
	Started  time.Time // zero until a job starts
	Finished time.Time // zero until every job is done
}

// JobStatus is where a job is.
type JobStatus string

// Job statuses. Created jobs wait for their needs; pending jobs are in the
// queue.
const (
	JobCreated  JobStatus = "created"
	JobPending  JobStatus = "pending"
	JobRunning  JobStatus = "running"
	JobSuccess  JobStatus = "success"
	JobFailed   JobStatus = "failed"
	JobCanceled JobStatus = "canceled"
	JobSkipped  JobStatus = "skipped"
	// JobManual is a manual job whose needs are done: it waits for
	// someone to play it (Play), and no runner claims it until then.
	JobManual JobStatus = "manual"
)

// Done reports whether the status is final.
func (s JobStatus) Done() bool {
	switch s {
	case JobSuccess, JobFailed, JobCanceled, JobSkipped:
		return true
	}
	return false
}

// When says under which outcome of its needs a job runs (GitLab's when:).
type When string

// When values; the zero value means OnSuccess.
const (
	OnSuccess When = "on_success"
	OnFailure When = "on_failure"
	Always    When = "always"
	// Manual jobs become JobManual instead of pending (GitLab's when:
	// manual). With AllowFailure they hold only the jobs that need them;
	// without, the build too (BuildBlocked).
	Manual When = "manual"
)

// Job is one job of a build: a GitLab job or a Drone pipeline.
type Job struct {
	ID      int64
	BuildID int64
	Name    string
	Stage   string
	// Needs names the jobs of the same build that must be done first
	// (GitLab stages or needs:, Drone depends_on).
	Needs        []string
	When         When
	AllowFailure bool
	// Tags are the runner tags the job requires.
	Tags   []string
	Status JobStatus
	// Document is the job as the runner receives it; the store does not
	// look inside.
	Document     []byte
	RunnerID     int64
	LeaseExpires time.Time
	// Requeues counts how often a lost runner's lease sent it back to the
	// queue.
	Requeues        int
	CancelRequested bool
	ExitCode        int
	FailureReason   string
	// UpstreamFailed marks a job skipped because a job it needs failed.
	UpstreamFailed bool
	LogLength      int64
	Created        time.Time
	Started        time.Time
	Finished       time.Time
}

// Claimed is a job leased to a runner, with the token the runner uses for
// its trace and status calls (shown only here; the store keeps a hash).
type Claimed struct {
	Job   Job
	Token string
}

// Result is what a runner reports when a job ends.
type Result struct {
	Status        JobStatus // JobSuccess, JobFailed or JobCanceled
	ExitCode      int
	FailureReason string
}

// Runner is an agent that takes jobs.
type Runner struct {
	ID          int64
	Description string
	Tags        []string
	// RunUntagged lets the runner take jobs that require no tags.
	RunUntagged bool
	Created     time.Time
	Contacted   time.Time // zero until it is first heard from
}

// MayRun is GitLab's rule for which runner takes which job: the runner has
// every tag the job asks for, and takes untagged jobs only with
// run_untagged. Claim applies the same rule in SQL.
func MayRun(jobTags, runnerTags []string, runUntagged bool) bool {
	if len(jobTags) == 0 {
		return runUntagged
	}
	for _, t := range jobTags {
		if !slices.Contains(runnerTags, t) {
			return false
		}
	}
	return true
}
