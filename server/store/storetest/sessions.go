package storetest

import (
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// testSessions: a session finds its user until it expires or is deleted,
// and only the id's hash is written.
func testSessions(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	now := time.Now()
	noErr(t, s.CreateSession(ctx(t), "session-one", f.user.ID, now.Add(time.Hour)))
	noErr(t, s.CreateSession(ctx(t), "session-old", f.user.ID, now.Add(time.Minute)))
	u := must(s.SessionUser(ctx(t), "session-one", now))(t)
	if u.ID != f.user.ID || u.Login != "octocat" {
		t.Errorf("session user %+v, want octocat", u)
	}
	_, err := s.SessionUser(ctx(t), "session-old", now.Add(2*time.Minute))
	wantErr(t, err, store.ErrNotFound, "an expired session")
	_, err = s.SessionUser(ctx(t), "session-none", now)
	wantErr(t, err, store.ErrNotFound, "an unknown session")
	wantErr(t, s.CreateSession(ctx(t), "session-one", f.user.ID, now.Add(time.Hour)), store.ErrConflict, "a taken id")

	notInClear(t, b, "SELECT id_hash FROM sessions", "session-one", "session-old")

	noErr(t, s.DeleteSession(ctx(t), "session-one"))
	_, err = s.SessionUser(ctx(t), "session-one", now)
	wantErr(t, err, store.ErrNotFound, "a deleted session")
	noErr(t, s.DeleteSession(ctx(t), "session-one"))
}

// testRunningJobs lists the running jobs with their runner.
func testRunningJobs(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	if jobs := must(s.RunningJobs(ctx(t)))(t); len(jobs) != 0 {
		t.Errorf("running jobs in an empty store: %+v", jobs)
	}
	newBuild(t, s, f.repo.ID, job("compile"), job("lint"))
	rn := must(s.CreateRunner(ctx(t), store.Runner{RunUntagged: true}, "glrt-running"))(t)
	c := must(s.Claim(ctx(t), rn.ID, nil, true, time.Minute))(t)
	jobs := must(s.RunningJobs(ctx(t)))(t)
	if len(jobs) != 1 || jobs[0].ID != c.Job.ID || jobs[0].RunnerID != rn.ID {
		t.Errorf("running jobs %+v, want job %d on runner %d", jobs, c.Job.ID, rn.ID)
	}
}
