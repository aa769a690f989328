// Package runner executes a pipeline on an engine: it pulls images, sets
// up each job's sandbox, starts services and waits for them, runs the
// steps, streams their output, and always tears down what it created.
package runner

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/secret"
)

// Runner runs pipelines on one engine. Set the fields, then call Run.
type Runner struct {
	// Engine runs jobs; Engines overrides it per job target
	// ("kubernetes" → the Kubernetes engine).
	Engine  engine.Engine
	Engines map[string]engine.Engine
	Out     io.Writer
	RunID   string
	Owner   string
	// WorkspaceDir is the checkout copied into every job.
	WorkspaceDir string
	// Concurrency is how many jobs of a stage run at once (default 1).
	Concurrency int
	// ServiceTimeout bounds the wait for services to listen (default 30s).
	ServiceTimeout time.Duration
	// StopGrace is what a cancelled step gets between stop and kill.
	StopGrace time.Duration
	// Secrets are the values Drone's from_secret names; every one of them
	// is masked in everything the run prints.
	Secrets map[string]string
	// RunnerEnv is the runner configuration's environment list; it may
	// hold DOCKER_AUTH_CONFIG.
	RunnerEnv []string
	// Terminal is true when Out is a terminal: pulls then show progress
	// per layer rather than a line per image.
	Terminal bool
	// ServiceLogs shows services' output as it happens.
	ServiceLogs bool
	// Kill, when closed, skips grace periods (a second Ctrl-C).
	Kill <-chan struct{}

	con    *console
	images imageCache
	masker *secret.Masker
}

// Result is how a run ended.
type Result struct {
	Jobs []JobResult
}

// JobResult is how one job ended.
type JobResult struct {
	Name     string
	Status   Status
	Duration time.Duration
	Reason   string
}

// Status of a job.
type Status string

const (
	Passed   Status = "passed"
	Failed   Status = "failed"
	Allowed  Status = "failed (allowed)"
	Skipped  Status = "skipped"
	Canceled Status = "canceled"
)

// Failed reports whether any job failed or was cancelled.
func (r Result) Failed() bool {
	for _, j := range r.Jobs {
		if j.Status == Failed || j.Status == Canceled {
			return true
		}
	}
	return false
}

// Run executes p stage by stage. After a failed stage only the jobs that
// ask to run on failure (or always) run.
func (r *Runner) Run(ctx context.Context, p *pipeline.Pipeline) Result {
	r.masker = secret.NewMasker(r.Secrets)
	r.con = &console{out: r.Out, mask: r.masker.String}
	for _, name := range r.masker.Skipped() {
		r.con.printf("Secret %s is shorter than %d characters and is not masked in the output", name, secret.MinLen)
	}
	if len(p.Jobs()) == 0 {
		// Conditions (Drone's trigger:/when:) can leave a file nothing to
		// run; say so rather than end in silence.
		r.con.printf("Nothing to run: every job was left out (the warnings above say why)")
	}
	var res Result
	failed := false
	for si, st := range p.Stages {
		run, skipped := r.selectJobs(ctx, st, failed)
		res.Jobs = append(res.Jobs, skipped...)
		if len(run.Jobs) == 0 {
			continue
		}
		jobs := r.runStage(ctx, si, run)
		for _, j := range jobs {
			if j.Status == Failed || j.Status == Canceled {
				failed = true
			}
		}
		res.Jobs = append(res.Jobs, jobs...)
	}
	return res
}

// selectJobs splits a stage into the jobs that run, given whether an
// earlier stage failed, and those skipped, with the reason.
func (r *Runner) selectJobs(ctx context.Context, st pipeline.Stage, failed bool) (pipeline.Stage, []JobResult) {
	run := pipeline.Stage{Name: st.Name}
	var skipped []JobResult
	for _, j := range st.Jobs {
		reason := ""
		switch {
		case ctx.Err() != nil:
		case j.When == pipeline.Manual:
			reason = "manual job: run it by naming it (slipway exec " + j.Name + ")"
		case j.When == pipeline.OnFailure && !failed:
			reason = "when: on_failure, and no earlier job failed"
		case !j.When.Runs(failed):
		default:
			run.Jobs = append(run.Jobs, j)
			continue
		}
		if reason != "" {
			r.con.printf("Skipping job %q: %s", j.Name, reason)
		}
		skipped = append(skipped, JobResult{Name: j.Name, Status: Skipped, Reason: reason})
	}
	return run, skipped
}

// runStage runs a stage's jobs, at most Concurrency at a time.
func (r *Runner) runStage(ctx context.Context, si int, st pipeline.Stage) []JobResult {
	n := max(r.Concurrency, 1)
	out := make([]JobResult, len(st.Jobs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, j := range st.Jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = r.runJob(ctx, fmt.Sprintf("j%d-%d", si, i), j, n > 1 && len(st.Jobs) > 1)
		}()
	}
	wg.Wait()
	return out
}
