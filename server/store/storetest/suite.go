// Package storetest is the conformance suite every store.Store
// implementation passes: Run it from the implementation's tests with a
// function that opens a fresh, empty store.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// Backend is a fresh, empty store and a raw handle on its database, for
// the checks of what is actually written (no secret or token in clear).
type Backend struct {
	Store store.Store
	Raw   *sql.DB
}

// Opener opens a fresh, empty store for one test and arranges (t.Cleanup)
// for it to be closed and removed.
type Opener func(t *testing.T) Backend

// Run runs the whole suite against the stores open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"Users", testUsers},
		{"Repos", testRepos},
		{"RepoAccess", testRepoAccess},
		{"DeleteRepoCascades", testDeleteRepo},
		{"Secrets", testSecrets},
		{"SecretsSealedAtRest", testSecretsAtRest},
		{"Variables", testVariables},
		{"Runners", testRunners},
		{"BuildNumbers", testBuildNumbers},
		{"BuildOfBadFile", testBuildError},
		{"BuildRejectsBadNeeds", testBadNeeds},
		{"ListBuildsPages", testListBuilds},
		{"StagesAndWhen", testStagesAndWhen},
		{"AllowFailure", testAllowFailure},
		{"Cancel", testCancel},
		{"ClaimEmptyQueue", testClaimEmpty},
		{"ClaimTags", testClaimTags},
		{"ClaimOldestFirst", testClaimOrder},
		{"JobToken", testJobToken},
		{"Renew", testRenew},
		{"FinishChecks", testFinishChecks},
		{"LeaseExpiryRequeuesOnceThenFails", testLeaseExpiry},
		{"LeaseExpiryWithoutRequeue", testLeaseNoRequeue},
		{"RenewedLeaseDoesNotExpire", testRenewedLease},
		{"OneRunnerPerJob16Claimers", testConcurrentClaims},
		{"Logs", testLogs},
		{"LogOffsetMismatch", testLogOffsets},
		{"ConcurrentWrites100", testConcurrentWrites},
		{"HookSecret", testHookSecret},
		{"BuildParent", testBuildParent},
		{"ManualOptional", testManualOptional},
		{"ManualBlocking", testManualBlocking},
		{"PlayRefusals", testPlayRefusals},
		{"CancelManual", testCancelManual},
		{"ManualHoldsItsNeeds", testManualHoldsItsNeeds},
		{"Sessions", testSessions},
		{"RunningJobs", testRunningJobs},
		{"Artifacts", testArtifacts},
		{"ArtifactsGoWithTheRepo", testArtifactsCascade},
		{"QueueChangedWakes", testQueueChanged},
		{"RequeueStartsANewLog", testRequeueLog},
		{"WebhookDeliveries", testDeliveries},
		{"ExpiredArtifacts", testExpiredArtifacts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// must(f())(t) is f's value; an error fails the test.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// fixture is a user owning a repository.
type fixture struct {
	user store.User
	repo store.Repo
}

func newFixture(t *testing.T, s store.Store) fixture {
	t.Helper()
	u := must(s.CreateUser(ctx(t), store.User{Login: "octocat"}, "user-token-octocat"))(t)
	r := must(s.CreateRepo(ctx(t), store.Repo{OwnerID: u.ID, Namespace: "octo", Name: "hello",
		ConfigPath: ".gitlab-ci.yml", MaxRequeues: -1}))(t)
	return fixture{user: u, repo: r}
}

// job is a job named name needing needs.
func job(name string, needs ...string) store.Job {
	return store.Job{Name: name, Needs: needs, Document: []byte(`{"name":"` + name + `"}`)}
}

func newBuild(t *testing.T, s store.Store, repoID int64, jobs ...store.Job) (store.Build, []store.Job) {
	t.Helper()
	b, js, err := s.CreateBuild(ctx(t), store.Build{RepoID: repoID, Event: "push", Ref: "refs/heads/main",
		Commit: "0123456789abcdef0123456789abcdef01234567", Message: "a change", Sender: "octocat"}, jobs)
	noErr(t, err)
	return b, js
}

// runner registers a runner with the tags.
func runner(t *testing.T, s store.Store, name string, untagged bool, tags ...string) store.Runner {
	t.Helper()
	return must(s.CreateRunner(ctx(t), store.Runner{Description: name, Tags: tags, RunUntagged: untagged},
		"glrt-"+name))(t)
}

// claim claims for r with a minute's lease, failing the test if no job comes.
func claim(t *testing.T, s store.Store, r store.Runner) store.Claimed {
	t.Helper()
	c, err := s.Claim(ctx(t), r.ID, r.Tags, r.RunUntagged, time.Minute)
	if err != nil {
		t.Fatalf("claim for %s: %v", r.Description, err)
	}
	return c
}

func finish(t *testing.T, s store.Store, c store.Claimed, st store.JobStatus) {
	t.Helper()
	noErr(t, s.Finish(ctx(t), c.Job.ID, c.Job.RunnerID, store.Result{Status: st}))
}

// statuses maps each job of the build to its status.
func statuses(t *testing.T, s store.Store, buildID int64) map[string]store.JobStatus {
	t.Helper()
	out := map[string]store.JobStatus{}
	for _, j := range must(s.Jobs(ctx(t), buildID))(t) {
		out[j.Name] = j.Status
	}
	return out
}

func wantStatuses(t *testing.T, s store.Store, buildID int64, want map[string]store.JobStatus) {
	t.Helper()
	got := statuses(t, s, buildID)
	for name, st := range want {
		if got[name] != st {
			t.Fatalf("job statuses %v, want %s: %s", got, name, st)
		}
	}
}

func buildStatus(t *testing.T, s store.Store, id int64) store.BuildStatus {
	t.Helper()
	return must(s.BuildByID(ctx(t), id))(t).Status
}
