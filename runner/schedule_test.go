package runner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
)

func needing(j *pipeline.Job, needs ...string) *pipeline.Job {
	j.DAG, j.Needs = true, needs
	return j
}

// started lists the job keys in the order their first step ran.
func (f *fakeEngine) started() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if key, ok := strings.CutSuffix(strings.TrimPrefix(c, "run "), " step-0"); ok && strings.HasPrefix(c, "run ") {
			out = append(out, key)
		}
	}
	return out
}

// TestNeedsStartsAJobBeforeItsStage: test-fast needs only build-fast, so
// it runs while build-slow still does; test-all waits for the whole
// build stage.
func TestNeedsStartsAJobBeforeItsStage(t *testing.T) {
	f := newFake()
	f.delay["sleep"] = 300 * time.Millisecond
	r, _ := newTestRunner(f)
	r.Concurrency = 2
	res := r.Run(context.Background(), pipelineOf(
		pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{gitlabJob("build-slow", "sleep"), gitlabJob("build-fast", "true")}},
		pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{gitlabJob("test-all", "true"), needing(gitlabJob("test-fast", "true"), "build-fast")}},
	))
	if res.Failed() {
		t.Fatalf("result %+v", res)
	}
	// j0-0 build-slow, j0-1 build-fast, j1-0 test-all, j1-1 test-fast.
	at := func(call string) int { return slices.Index(f.calls, call) }
	if at("run j1-1 step-0") < 0 || at("run j1-1 step-0") > at("exited j0-0 step-0") || at("run j1-0 step-0") < at("exited j0-0 step-0") {
		t.Errorf("test-fast should start while build-slow runs, test-all after it: %v", f.calls)
	}
}

// TestEmptyNeedsStartsAtOnce: needs: [] in the last stage runs before
// the stages ahead of it, even one job at a time.
func TestEmptyNeedsStartsAtOnce(t *testing.T) {
	f := newFake()
	r, _ := newTestRunner(f)
	r.Run(context.Background(), pipelineOf(
		pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{gitlabJob("build", "true")}},
		pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{gitlabJob("test", "true")}},
		pipeline.Stage{Name: "deploy", Jobs: []*pipeline.Job{needing(gitlabJob("lint", "true"))}},
	))
	// Plan order would be build, test, lint; lint is ready at once and
	// the first ready job in plan order after build is lint.
	want := []string{"j0-0", "j2-0", "j1-0"}
	if got := f.started(); !slices.Equal(got, want) {
		t.Errorf("started %v, want %v", got, want)
	}
}

// TestFailedNeedSkipsItsDependents: a failed need skips what needs it,
// saying why; a job that does not need it still runs, and on_failure
// jobs after it run.
func TestFailedNeedSkipsItsDependents(t *testing.T) {
	f := newFake()
	f.exit["exit 1"] = 1
	r, out := newTestRunner(f)
	report := needing(gitlabJob("report", "true"), "compile")
	report.When = pipeline.OnFailure
	res := r.Run(context.Background(), pipelineOf(
		pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{gitlabJob("compile", "exit 1"), gitlabJob("docs", "true")}},
		pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{
			needing(gitlabJob("unit", "true"), "compile"),
			needing(gitlabJob("spell", "true"), "docs"),
			report,
		}},
		pipeline.Stage{Name: "deploy", Jobs: []*pipeline.Job{needing(gitlabJob("ship", "true"), "unit"), gitlabJob("after", "true")}},
	))
	got := map[string]Status{}
	for _, j := range res.Jobs {
		got[j.Name] = j.Status
	}
	want := map[string]Status{"compile": Failed, "docs": Passed, "unit": Skipped, "spell": Passed, "report": Passed, "ship": Skipped, "after": Skipped}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("job %s: %s, want %s", n, got[n], w)
		}
	}
	for _, line := range []string{
		`Skipping job "unit": it needs compile, and compile failed`,
		`Skipping job "ship": it needs unit, and compile failed`,
		`Skipping job "after": job compile of an earlier stage failed`,
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestConcurrencyBoundsTheGraph: however many jobs are ready, no more
// than Concurrency run at once.
func TestConcurrencyBoundsTheGraph(t *testing.T) {
	f := newFake()
	f.runDelay = 20 * time.Millisecond
	r, _ := newTestRunner(f)
	r.Concurrency = 3
	var jobs []*pipeline.Job
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		jobs = append(jobs, needing(gitlabJob(n, "true")))
	}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: jobs}))
	if res.Failed() || len(res.Jobs) != 7 {
		t.Fatalf("result %+v", res)
	}
	if f.maxRunning != 3 {
		t.Errorf("at most %d ran at once, want 3", f.maxRunning)
	}
}
