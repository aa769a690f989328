package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

func testClaimEmpty(t *testing.T, b Backend) {
	r := runner(t, b.Store, "r", true)
	if _, err := b.Store.Claim(ctx(t), r.ID, nil, true, time.Minute); err != store.ErrNoJob {
		t.Fatalf("claim from an empty queue: %v, want ErrNoJob", err)
	}
}

// testClaimTags checks GitLab's rule: every tag of the job on the runner;
// untagged jobs only for run_untagged runners.
func testClaimTags(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	tagged := func(name string, tags ...string) store.Job {
		j := job(name)
		j.Tags = tags
		return j
	}
	newBuild(t, s, f.repo.ID, job("untagged"), tagged("docker", "docker"), tagged("both", "docker", "linux"),
		tagged("gpu", "gpu"))
	for _, tc := range []struct {
		tags     []string
		untagged bool
		want     string // the one job it may take, or ""
	}{
		{nil, false, ""},
		{[]string{"arm"}, false, ""},
		{[]string{"linux"}, false, ""},
		{nil, true, "untagged"},
		{[]string{"docker"}, false, "docker"},
		{[]string{"linux", "docker", "arm"}, false, "both"},
		{[]string{"gpu"}, true, "gpu"},
	} {
		c, err := s.Claim(ctx(t), 1, tc.tags, tc.untagged, time.Minute)
		got := c.Job.Name
		if errors.Is(err, store.ErrNoJob) {
			got = ""
		} else if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Fatalf("runner with tags %v, run_untagged %v claimed %q, want %q", tc.tags, tc.untagged, got, tc.want)
		}
		if got != "" && !store.MayRun(c.Job.Tags, tc.tags, tc.untagged) {
			t.Fatalf("Claim and MayRun disagree on %q for %v", got, tc.tags)
		}
	}
}

func testClaimOrder(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("first"), job("second"))
	newBuild(t, s, f.repo.ID, job("third"))
	for _, want := range []string{"first", "second", "third"} {
		if c := claim(t, s, r); c.Job.Name != want {
			t.Fatalf("claimed %q, want %q (oldest first)", c.Job.Name, want)
		}
	}
}

func testJobToken(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("a"), job("b"))
	c1, c2 := claim(t, s, r), claim(t, s, r)
	if c1.Token == c2.Token {
		t.Fatal("two jobs got the same token")
	}
	if j := must(s.JobByToken(ctx(t), c2.Token))(t); j.ID != c2.Job.ID {
		t.Fatalf("JobByToken = job %d, want %d", j.ID, c2.Job.ID)
	}
	_, err := s.JobByToken(ctx(t), "glcbt-unknown")
	wantErr(t, err, store.ErrNotFound, "an unknown job token")
	finish(t, s, c1, store.JobSuccess)
	_, err = s.JobByToken(ctx(t), c1.Token)
	wantErr(t, err, store.ErrNotFound, "the token of a finished job")
	notInClear(t, b, "SELECT token_hash FROM jobs", c1.Token, c2.Token)
}

func testRenew(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("a"))
	c := claim(t, s, r)
	j := must(s.Renew(ctx(t), c.Job.ID, r.ID, time.Hour))(t)
	if !j.LeaseExpires.After(c.Job.LeaseExpires.Add(50*time.Minute)) || j.CancelRequested {
		t.Fatalf("lease %v after a renew for an hour; claimed with %v", j.LeaseExpires, c.Job.LeaseExpires)
	}
	_, err := s.Renew(ctx(t), c.Job.ID, r.ID+1, time.Hour)
	wantErr(t, err, store.ErrLeaseLost, "a renew by another runner")
	finish(t, s, c, store.JobSuccess)
	_, err = s.Renew(ctx(t), c.Job.ID, r.ID, time.Hour)
	wantErr(t, err, store.ErrLeaseLost, "a renew of a finished job")
}

func testFinishChecks(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("a"))
	c := claim(t, s, r)
	if err := s.Finish(ctx(t), c.Job.ID, r.ID, store.Result{Status: store.JobRunning}); err == nil {
		t.Fatal("finishing as running was accepted")
	}
	wantErr(t, s.Finish(ctx(t), c.Job.ID, r.ID+1, store.Result{Status: store.JobSuccess}), store.ErrLeaseLost,
		"a finish by another runner")
	wantErr(t, s.Finish(ctx(t), c.Job.ID+100, r.ID, store.Result{Status: store.JobSuccess}), store.ErrNotFound,
		"a finish of an unknown job")
	finish(t, s, c, store.JobSuccess)
	wantErr(t, s.Finish(ctx(t), c.Job.ID, r.ID, store.Result{Status: store.JobFailed}), store.ErrLeaseLost,
		"a second finish")
	if j := must(s.Job(ctx(t), c.Job.ID))(t); j.Status != store.JobSuccess {
		t.Fatalf("a second finish changed the job: %s", j.Status)
	}
}

// testLeaseExpiry: a lost runner's job is queued again once (the default),
// then fails with "runner lost"; the lost runner can no longer finish it.
func testLeaseExpiry(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r1, r2 := runner(t, s, "r1", true), runner(t, s, "r2", true)
	bld, _ := newBuild(t, s, f.repo.ID, job("a"))
	c := claim(t, s, r1)
	if got := must(s.ExpireLeases(ctx(t), time.Now()))(t); len(got) != 0 {
		t.Fatalf("a live lease expired: %+v", got)
	}
	later := time.Now().Add(2 * time.Minute)
	got := must(s.ExpireLeases(ctx(t), later))(t)
	if len(got) != 1 || got[0].Status != store.JobPending || got[0].Requeues != 1 || got[0].RunnerID != 0 {
		t.Fatalf("first expiry: %+v, want the job pending again with 1 requeue", got)
	}
	wantErr(t, s.Finish(ctx(t), c.Job.ID, r1.ID, store.Result{Status: store.JobSuccess}), store.ErrLeaseLost,
		"the lost runner's finish")
	_, err := s.JobByToken(ctx(t), c.Token)
	wantErr(t, err, store.ErrNotFound, "the lost runner's job token")
	c2 := claim(t, s, r2)
	if c2.Job.ID != c.Job.ID || c2.Token == c.Token {
		t.Fatalf("the requeued job went to %+v", c2)
	}
	got = must(s.ExpireLeases(ctx(t), later.Add(2*time.Minute)))(t)
	if len(got) != 1 || got[0].Status != store.JobFailed || got[0].FailureReason != "runner lost" {
		t.Fatalf("second expiry: %+v, want failed with \"runner lost\"", got)
	}
	if st := buildStatus(t, s, bld.ID); st != store.BuildFailed {
		t.Fatalf("build after its job was lost twice: %s", st)
	}
	if _, err := s.Claim(ctx(t), r1.ID, nil, true, time.Minute); err != store.ErrNoJob {
		t.Fatalf("a failed job was claimed again: %v", err)
	}
}

func testLeaseNoRequeue(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	f.repo.MaxRequeues = 0
	noErr(t, s.UpdateRepo(ctx(t), f.repo))
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("a"), job("b", "a"))
	claim(t, s, r)
	got := must(s.ExpireLeases(ctx(t), time.Now().Add(time.Hour)))(t)
	if len(got) != 1 || got[0].Status != store.JobFailed || got[0].FailureReason != "runner lost" {
		t.Fatalf("expiry without requeues: %+v", got)
	}
	wantStatuses(t, s, got[0].BuildID, map[string]store.JobStatus{"b": store.JobSkipped})
}

func testRenewedLease(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := runner(t, s, "r", true)
	newBuild(t, s, f.repo.ID, job("a"))
	c, err := s.Claim(ctx(t), r.ID, nil, true, time.Millisecond)
	noErr(t, err)
	must(s.Renew(ctx(t), c.Job.ID, r.ID, time.Hour))(t)
	if got := must(s.ExpireLeases(ctx(t), time.Now().Add(time.Minute)))(t); len(got) != 0 {
		t.Fatalf("a renewed lease expired: %+v", got)
	}
}

// testConcurrentClaims: 16 runners claim at once until the queue is empty;
// every job goes to exactly one of them.
func testConcurrentClaims(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	const claimers, jobs = 16, 64
	var all []store.Job
	for i := range jobs / 8 {
		var js []store.Job
		for k := range 8 {
			js = append(js, job(fmt.Sprintf("j%d-%d", i, k)))
		}
		_, created := newBuild(t, s, f.repo.ID, js...)
		all = append(all, created...)
	}
	var mu sync.Mutex
	owner := map[int64]int64{} // job -> runner
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for i := range claimers {
		r := runner(t, s, fmt.Sprintf("r%d", i), true)
		wg.Go(func() {
			for {
				c, err := s.Claim(ctx(t), r.ID, nil, true, time.Minute)
				if errors.Is(err, store.ErrNoJob) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				prev, dup := owner[c.Job.ID]
				owner[c.Job.ID] = r.ID
				mu.Unlock()
				if dup {
					errs <- fmt.Errorf("job %d claimed by runner %d and by runner %d", c.Job.ID, prev, r.ID)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(owner) != jobs {
		t.Fatalf("%d of %d jobs claimed", len(owner), jobs)
	}
	for _, j := range all {
		got := must(s.Job(ctx(t), j.ID))(t)
		if got.Status != store.JobRunning || got.RunnerID != owner[j.ID] {
			t.Fatalf("job %d: %s by runner %d, but runner %d claimed it", j.ID, got.Status, got.RunnerID, owner[j.ID])
		}
	}
}
