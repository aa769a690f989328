package storetest

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/server/store"
)

func testBuildNumbers(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	other := must(s.CreateRepo(ctx(t), store.Repo{OwnerID: f.user.ID, Namespace: "octo", Name: "other"}))(t)
	b1, _ := newBuild(t, s, f.repo.ID, job("a"))
	b2, _ := newBuild(t, s, f.repo.ID, job("a"))
	o1, _ := newBuild(t, s, other.ID, job("a"))
	if b1.Number != 1 || b2.Number != 2 || o1.Number != 1 {
		t.Fatalf("build numbers %d %d, other repository %d: want 1 2, 1", b1.Number, b2.Number, o1.Number)
	}
	got := must(s.Build(ctx(t), f.repo.ID, 2))(t)
	if got != b2 || got.Status != store.BuildPending || got.Commit != b2.Commit || got.Sender != "octocat" {
		t.Fatalf("Build(2) = %+v, want %+v", got, b2)
	}
	_, err := s.Build(ctx(t), f.repo.ID, 3)
	wantErr(t, err, store.ErrNotFound, "an unknown build number")
	_, err = s.BuildByID(ctx(t), b2.ID+100)
	wantErr(t, err, store.ErrNotFound, "an unknown build id")
	_, _, err = s.CreateBuild(ctx(t), store.Build{RepoID: other.ID + 100}, []store.Job{job("a")})
	wantErr(t, err, store.ErrNotFound, "a build of an unknown repository")
}

func testBuildError(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	const msg = ".gitlab-ci.yml:3:5: unknown key \"scirpt\""
	bld, jobs, err := s.CreateBuild(ctx(t), store.Build{RepoID: f.repo.ID, Error: msg}, nil)
	noErr(t, err)
	if bld.Status != store.BuildError || bld.Error != msg || bld.Finished.IsZero() || len(jobs) != 0 {
		t.Fatalf("build of a bad file: %+v, jobs %v", bld, jobs)
	}
	empty, _, err := s.CreateBuild(ctx(t), store.Build{RepoID: f.repo.ID}, nil)
	noErr(t, err)
	if empty.Status != store.BuildSuccess || empty.Number != 2 {
		t.Fatalf("a build with nothing to run: %+v", empty)
	}
}

func testBadNeeds(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	for _, jobs := range [][]store.Job{
		{job("a", "ghost")},
		{job("a", "b"), job("b", "a")},
		{job("a"), job("a")},
	} {
		_, _, err := s.CreateBuild(ctx(t), store.Build{RepoID: f.repo.ID}, jobs)
		if err == nil {
			t.Fatalf("CreateBuild(%+v) was accepted", jobs)
		}
	}
	if got := must(s.ListBuilds(ctx(t), f.repo.ID, 1, 10))(t); len(got) != 0 {
		t.Fatalf("refused builds were stored: %+v", got)
	}
	if c := must(s.CountJobs(ctx(t)))(t); len(c) != 0 {
		t.Fatalf("refused builds queued jobs: %v", c)
	}
}

func testListBuilds(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	for range 5 {
		newBuild(t, s, f.repo.ID, job("a"))
	}
	numbers := func(page, per int) string {
		var out []string
		for _, b := range must(s.ListBuilds(ctx(t), f.repo.ID, page, per))(t) {
			out = append(out, string(rune('0'+b.Number)))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		page, per int
		want      string
	}{{1, 2, "5,4"}, {2, 2, "3,2"}, {3, 2, "1"}, {4, 2, ""}, {1, 25, "5,4,3,2,1"}, {0, 0, "5"}} {
		if got := numbers(tc.page, tc.per); got != tc.want {
			t.Fatalf("ListBuilds page %d per %d = %s, want %s", tc.page, tc.per, got, tc.want)
		}
	}
}

// testStagesAndWhen runs a build through: build -> test fails -> the
// on_success job is skipped, the on_failure and always jobs run.
func testStagesAndWhen(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	deploy := job("deploy", "test")
	notify := job("notify", "test")
	notify.When = store.OnFailure
	cleanup := job("cleanup", "deploy")
	cleanup.When = store.Always
	bld, jobs := newBuild(t, s, f.repo.ID, job("build"), job("test", "build"), deploy, notify, cleanup)
	if len(jobs) != 5 || jobs[1].Name != "test" || jobs[1].Needs[0] != "build" || jobs[3].When != store.OnFailure ||
		jobs[2].When != store.OnSuccess || string(jobs[0].Document) != `{"name":"build"}` {
		t.Fatalf("jobs as stored: %+v", jobs)
	}
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{"build": store.JobPending, "test": store.JobCreated})
	if c := must(s.CountJobs(ctx(t)))(t); c[store.JobPending] != 1 || c[store.JobCreated] != 4 {
		t.Fatalf("CountJobs = %v", c)
	}

	c := claim(t, s, r)
	if c.Job.Name != "build" || c.Job.Status != store.JobRunning || c.Job.RunnerID != r.ID || c.Token == "" {
		t.Fatalf("claimed %+v", c)
	}
	if got := must(s.BuildByID(ctx(t), bld.ID))(t); got.Status != store.BuildRunning || got.Started.IsZero() {
		t.Fatalf("build after the first claim: %+v", got)
	}
	finish(t, s, c, store.JobSuccess)
	c = claim(t, s, r)
	if c.Job.Name != "test" {
		t.Fatalf("claimed %s, want test", c.Job.Name)
	}
	noErr(t, s.Finish(ctx(t), c.Job.ID, r.ID, store.Result{Status: store.JobFailed, ExitCode: 3, FailureReason: "script_failure"}))
	j := must(s.Job(ctx(t), c.Job.ID))(t)
	if j.ExitCode != 3 || j.FailureReason != "script_failure" || j.Finished.IsZero() {
		t.Fatalf("failed job as stored: %+v", j)
	}
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{
		"deploy": store.JobSkipped, "notify": store.JobPending, "cleanup": store.JobPending})
	for range 2 {
		finish(t, s, claim(t, s, r), store.JobSuccess)
	}
	got := must(s.BuildByID(ctx(t), bld.ID))(t)
	if got.Status != store.BuildFailed || got.Finished.IsZero() {
		t.Fatalf("build after all jobs: %+v", got)
	}
	if _, err := s.Claim(ctx(t), r.ID, nil, true, 0); err != store.ErrNoJob {
		t.Fatalf("claim from a finished build: %v", err)
	}
}

func testAllowFailure(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	lint := job("lint")
	lint.AllowFailure = true
	bld, _ := newBuild(t, s, f.repo.ID, lint, job("test", "lint"))
	c := claim(t, s, r)
	// As if the claim's stamp of the build had been lost: the build's next
	// change stamps it.
	_, err := b.Raw.ExecContext(ctx(t), "UPDATE builds SET status = 'pending', started = 0")
	noErr(t, err)
	finish(t, s, c, store.JobFailed)
	if got := must(s.BuildByID(ctx(t), bld.ID))(t); got.Status != store.BuildRunning || !got.Started.Equal(c.Job.Started) {
		t.Fatalf("build after a lost stamp and a finish: %+v, want running since %v", got, c.Job.Started)
	}
	c = claim(t, s, r)
	if c.Job.Name != "test" {
		t.Fatalf("after an allowed failure claimed %q, want test", c.Job.Name)
	}
	finish(t, s, c, store.JobSuccess)
	if st := buildStatus(t, s, bld.ID); st != store.BuildSuccess {
		t.Fatalf("build with an allowed failure: %s", st)
	}
}

func testCancel(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	bld, _ := newBuild(t, s, f.repo.ID, job("a"), job("b"), job("c", "a"))
	c := claim(t, s, r)
	noErr(t, s.CancelBuild(ctx(t), bld.ID))
	wantStatuses(t, s, bld.ID, map[string]store.JobStatus{
		"a": store.JobRunning, "b": store.JobCanceled, "c": store.JobCanceled})
	if st := buildStatus(t, s, bld.ID); st != store.BuildRunning {
		t.Fatalf("build while its running job stops: %s", st)
	}
	j := must(s.Renew(ctx(t), c.Job.ID, r.ID, 0))(t)
	if !j.CancelRequested {
		t.Fatal("the runner of a canceled build's running job is not told")
	}
	if _, err := s.Claim(ctx(t), r.ID, nil, true, 0); err != store.ErrNoJob {
		t.Fatalf("claim after cancel: %v", err)
	}
	finish(t, s, c, store.JobCanceled)
	if st := buildStatus(t, s, bld.ID); st != store.BuildCanceled {
		t.Fatalf("canceled build: %s", st)
	}
	wantErr(t, s.CancelBuild(ctx(t), bld.ID+100), store.ErrNotFound, "canceling an unknown build")
}
