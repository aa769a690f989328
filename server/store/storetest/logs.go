package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

func testLogs(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	_, jobs := newBuild(t, s, f.repo.ID, job("a"))
	id := jobs[0].ID
	if n := must(s.AppendLog(ctx(t), id, 0, []byte("hello ")))(t); n != 6 {
		t.Fatalf("length after the first chunk: %d", n)
	}
	if n := must(s.AppendLog(ctx(t), id, 6, []byte("world\n")))(t); n != 12 {
		t.Fatalf("length after the second chunk: %d", n)
	}
	if n := must(s.AppendLog(ctx(t), id, 12, nil))(t); n != 12 {
		t.Fatalf("an empty chunk changed the length: %d", n)
	}
	for _, tc := range []struct {
		offset int64
		limit  int
		want   string
	}{{0, 0, "hello world\n"}, {3, 0, "lo world\n"}, {3, 5, "lo wo"}, {6, 6, "world\n"},
		{0, 6, "hello "}, {0, 7, "hello w"}, {5, 1, " "}, {5, 2, " w"}, {12, 0, ""}, {12, 4, ""}, {40, 0, ""}} {
		if got := string(must(s.ReadLog(ctx(t), id, tc.offset, tc.limit))(t)); got != tc.want {
			t.Fatalf("ReadLog(%d, %d) = %q, want %q", tc.offset, tc.limit, got, tc.want)
		}
	}
	if j := must(s.Job(ctx(t), id))(t); j.LogLength != 12 {
		t.Fatalf("Job.LogLength = %d", j.LogLength)
	}
	_, err := s.AppendLog(ctx(t), id+100, 0, []byte("x"))
	wantErr(t, err, store.ErrNotFound, "a chunk for an unknown job")
}

// testLogOffsets: a chunk that does not start at the end is refused with
// the current length (the trace protocol's 416), and nothing of it is kept.
func testLogOffsets(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	_, jobs := newBuild(t, s, f.repo.ID, job("a"))
	id := jobs[0].ID
	must(s.AppendLog(ctx(t), id, 0, []byte("0123456789")))(t)
	for _, off := range []int64{0, 5, 11, -1} {
		_, err := s.AppendLog(ctx(t), id, off, []byte("XX"))
		var oe *store.OffsetError
		if !errors.As(err, &oe) || oe.Length != 10 || oe.Offset != off {
			t.Fatalf("chunk at %d: %v, want an OffsetError with length 10", off, err)
		}
	}
	if got := string(must(s.ReadLog(ctx(t), id, 0, 0))(t)); got != "0123456789" {
		t.Fatalf("log after refused chunks: %q", got)
	}
}

// testConcurrentWrites: 100 writers at once, as 100 webhooks and the runners
// they wake would be: each starts a build, logs a line, claims and finishes
// a job and sets a variable. Every write succeeds ("database is locked" is
// a failure), and the build numbers are 1..100.
func testConcurrentWrites(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	const writers = 100
	r := runner(t, s, "r", true)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var mu sync.Mutex
	numbers := map[int64]bool{}
	for i := range writers {
		wg.Go(func() {
			n, err := webhook(t, s, f.repo.ID, r.ID, i)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			numbers[n] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if strings.Contains(err.Error(), "locked") {
			t.Fatalf("database is locked: %v", err)
		}
		t.Fatal(err)
	}
	for n := int64(1); n <= writers; n++ {
		if !numbers[n] {
			t.Fatalf("no build numbered %d among %d builds", n, len(numbers))
		}
	}
	if vars := must(s.ListVariables(ctx(t), f.repo.ID))(t); len(vars) != writers {
		t.Fatalf("%d variables written, want %d", len(vars), writers)
	}
	if c := must(s.CountJobs(ctx(t)))(t); c[store.JobSuccess] != writers {
		t.Fatalf("jobs by status after %d claims and finishes: %v", writers, c)
	}
}

// webhook is one writer of testConcurrentWrites. Every writer queues a job
// before it claims one, so there is always one to claim.
func webhook(t *testing.T, s store.Store, repoID, runnerID int64, i int) (int64, error) {
	bld, jobs, err := s.CreateBuild(ctx(t), store.Build{RepoID: repoID, Event: "push"}, []store.Job{job("a")})
	if err != nil {
		return 0, err
	}
	if _, err := s.AppendLog(ctx(t), jobs[0].ID, 0, []byte("queued\n")); err != nil {
		return 0, err
	}
	c, err := s.Claim(ctx(t), runnerID, nil, true, time.Minute)
	if err != nil {
		return 0, err
	}
	if err := s.Finish(ctx(t), c.Job.ID, runnerID, store.Result{Status: store.JobSuccess}); err != nil {
		return 0, err
	}
	return bld.Number, s.PutVariable(ctx(t), repoID, store.Variable{Name: fmt.Sprintf("V%d", i), Value: "x"})
}
