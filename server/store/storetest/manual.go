package storetest

import (
	"testing"

	"github.com/slipway-ci/slipway/server/store"
)

// manual is a when: manual job needing needs; optional is GitLab's
// allow_failure (true by default for a manual job).
func manual(name string, optional bool, needs ...string) store.Job {
	j := job(name, needs...)
	j.When, j.AllowFailure = store.Manual, optional
	return j
}

func wantNoJob(t *testing.T, s store.Store, r store.Runner, what string) {
	t.Helper()
	if c, err := s.Claim(ctx(t), r.ID, r.Tags, r.RunUntagged, 0); err != store.ErrNoJob {
		t.Fatalf("claim %s: %+v, %v; want no job", what, c.Job, err)
	}
}

// testManualOptional: a manual job that allows failure waits unclaimed,
// the build finishes without it, and playing it opens the build again
// until it has run.
func testManualOptional(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	bld, jobs := newBuild(t, s, f.repo.ID, job("build"), manual("deploy", true, "build"), job("test", "build"))
	if jobs[1].When != store.Manual || !jobs[1].AllowFailure || jobs[1].Status != store.JobCreated {
		t.Fatalf("manual job as stored: %+v", jobs[1])
	}
	finish(t, s, claim(t, s, r), store.JobSuccess)
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"deploy": store.JobManual, "test": store.JobPending})
	if c := must(s.CountJobs(ctx(t)))(t); c[store.JobManual] != 1 {
		t.Fatalf("CountJobs = %v", c)
	}
	c := claim(t, s, r)
	if c.Job.Name != "test" {
		t.Fatalf("claimed %s, want test", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	wantNoJob(t, s, r, "with only a manual job left")
	done := must(s.BuildByID(ctx(t), bld.ID))(t)
	if done.Status != store.BuildSuccess || done.Finished.IsZero() {
		t.Fatalf("build with an optional manual job not played: %+v", done)
	}
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"deploy": store.JobManual})

	played := must(s.Play(ctx(t), jobs[1].ID))(t)
	if played.Status != store.JobPending || played.Name != "deploy" {
		t.Fatalf("played job: %+v", played)
	}
	reopened := must(s.BuildByID(ctx(t), bld.ID))(t)
	if reopened.Status != store.BuildRunning || !reopened.Finished.IsZero() || !reopened.Started.Equal(done.Started) {
		t.Fatalf("build after play: %+v (before: %+v)", reopened, done)
	}
	c = claim(t, s, r)
	if c.Job.Name != "deploy" {
		t.Fatalf("claimed %s, want the played deploy", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	if got := must(s.BuildByID(ctx(t), bld.ID))(t); got.Status != store.BuildSuccess || got.Finished.IsZero() {
		t.Fatalf("build after the played job: %+v", got)
	}
}

// testManualBlocking: a manual job with allow_failure: false blocks the
// build and the jobs that need it until it is played and passes.
func testManualBlocking(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	bld, jobs := newBuild(t, s, f.repo.ID, job("build"), manual("deploy", false, "build"), job("after", "deploy"))
	finish(t, s, claim(t, s, r), store.JobSuccess)
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"deploy": store.JobManual, "after": store.JobCreated})
	wantNoJob(t, s, r, "of a blocked build")
	if got := must(s.BuildByID(ctx(t), bld.ID))(t); got.Status != store.BuildBlocked || !got.Finished.IsZero() {
		t.Fatalf("build waiting for a blocking manual job: %+v", got)
	}
	must(s.Play(ctx(t), jobs[1].ID))(t)
	if st := buildStatus(t, s, bld.ID); st != store.BuildRunning {
		t.Fatalf("build after play: %s", st)
	}
	c := claim(t, s, r)
	if c.Job.Name != "deploy" {
		t.Fatalf("claimed %s, want deploy", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	c = claim(t, s, r)
	if c.Job.Name != "after" {
		t.Fatalf("claimed %s, want after", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	if st := buildStatus(t, s, bld.ID); st != store.BuildSuccess {
		t.Fatalf("build after all jobs: %s", st)
	}

	// A build of one blocking manual job is blocked from the start, and
	// goes to pending when played: it has not started.
	only, jobs := newBuild(t, s, f.repo.ID, manual("deploy", false))
	if only.Status != store.BuildBlocked || !only.Started.IsZero() {
		t.Fatalf("new build of a blocking manual job: %+v", only)
	}
	must(s.Play(ctx(t), jobs[0].ID))(t)
	if st := buildStatus(t, s, only.ID); st != store.BuildPending {
		t.Fatalf("played build that never started: %s", st)
	}
	c = claim(t, s, r)
	finish(t, s, c, store.JobFailed)
	if st := buildStatus(t, s, only.ID); st != store.BuildFailed {
		t.Fatalf("build whose blocking manual job failed: %s", st)
	}
}

func testPlayRefusals(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	bld, jobs := newBuild(t, s, f.repo.ID, job("build"), manual("deploy", true))
	_, err := s.Play(ctx(t), jobs[0].ID)
	wantErr(t, err, store.ErrNotManual, "playing a job that is not manual")
	must(s.Play(ctx(t), jobs[1].ID))(t)
	_, err = s.Play(ctx(t), jobs[1].ID)
	wantErr(t, err, store.ErrNotManual, "playing a job twice")
	_, err = s.Play(ctx(t), jobs[1].ID+100)
	wantErr(t, err, store.ErrNotFound, "playing an unknown job")
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"build": store.JobPending, "deploy": store.JobPending})
}

// testCancelManual: cancel takes the manual jobs too, so a blocked build
// ends, and they can no longer be played.
func testCancelManual(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	bld, jobs := newBuild(t, s, f.repo.ID, manual("deploy", false), job("after", "deploy"))
	noErr(t, s.CancelBuild(ctx(t), bld.ID))
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"deploy": store.JobCanceled, "after": store.JobCanceled})
	if got := must(s.BuildByID(ctx(t), bld.ID))(t); got.Status != store.BuildCanceled || got.Finished.IsZero() {
		t.Fatalf("canceled blocked build: %+v", got)
	}
	_, err := s.Play(ctx(t), jobs[0].ID)
	wantErr(t, err, store.ErrNotManual, "playing a canceled manual job")
}

// testManualHoldsItsNeeds: a job whose needs name an optional manual job
// waits for it, but does not hold the build open (on GitLab both look
// skipped); played, the manual job runs and then the job that needs it.
func testManualHoldsItsNeeds(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	bld, jobs := newBuild(t, s, f.repo.ID, manual("deploy", true), job("announce", "deploy"), job("test"))
	finish(t, s, claim(t, s, r), store.JobSuccess)
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{
		"deploy": store.JobManual, "announce": store.JobCreated, "test": store.JobSuccess})
	if st := buildStatus(t, s, bld.ID); st != store.BuildSuccess {
		t.Fatalf("build with only an optional manual job and its dependant left: %s", st)
	}
	must(s.Play(ctx(t), jobs[0].ID))(t)
	c := claim(t, s, r)
	if c.Job.Name != "deploy" {
		t.Fatalf("claimed %s, want deploy", c.Job.Name)
	}
	// Failure is allowed: the job that needs it runs all the same.
	finish(t, s, c, store.JobFailed)
	if st := buildStatus(t, s, bld.ID); st != store.BuildRunning {
		t.Fatalf("build while announce waits: %s", st)
	}
	c = claim(t, s, r)
	if c.Job.Name != "announce" {
		t.Fatalf("claimed %s, want announce", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	if st := buildStatus(t, s, bld.ID); st != store.BuildSuccess {
		t.Fatalf("build after all jobs: %s", st)
	}
}
