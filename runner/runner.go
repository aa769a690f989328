// Package runner executes a plan on engines: it pulls images, sets up
// each job's sandbox, starts services and waits for them, runs the steps,
// reports what happens through Events, and always tears down what it
// created.
package runner

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
	"github.com/slipway-ci/slipway/secret"
)

// Runner runs plans on its engines. Set the fields, then call Run; one
// Runner may run several plans at once, each Run has its own state.
type Runner struct {
	// Engine runs jobs; Engines overrides it per job target.
	Engine  engine.Engine
	Engines map[pipeline.Target]engine.Engine
	// Owner marks what this process creates (see engine.Owner).
	Owner string
	// Concurrency is how many jobs run at once (default 1).
	Concurrency int
	// ServiceTimeout bounds the wait for services to listen (default 30s).
	ServiceTimeout time.Duration
	// StopGrace is what a cancelled step gets between stop and kill.
	StopGrace time.Duration
	// Terminal: pulls report progress per layer rather than a line per
	// image.
	Terminal bool
	// ServiceLogs shows services' output as it happens.
	ServiceLogs bool
	// Kill, when closed, skips grace periods (a second Ctrl-C).
	Kill <-chan struct{}
}

// Options are what one run adds: who it is, what it copies, whom it tells.
type Options struct {
	// ID labels every object of the run.
	ID string
	// Workspace is the checkout copied into every job.
	Workspace string
	// Events receives what the run reports, masked.
	Events Events
	// Artifacts is the directory the run keeps jobs' artifacts in, a
	// directory per job; "" keeps none.
	Artifacts string
	// Project is what caches are kept per; the checkout's absolute path
	// when empty.
	Project string
	// Given names jobs outside this run whose artifacts are already in
	// the Artifacts directory (ArtifactsDir), for the jobs that need
	// them: the artifacts a runner agent downloaded from its server.
	Given []string
	// GivenDotenv are the dotenv report variables (NAME=value) of Given
	// jobs, for the jobs that get their artifacts (Result.Dotenv of the
	// runs that made them).
	GivenDotenv map[string][]string
}

// run is the state of one Run.
type run struct {
	*Runner
	plan      *plan.Plan
	id        string
	workspace string
	events    Events
	masker    *secret.Masker
	images    imageCache
	artifacts string
	project   string
	given     []string
	mu        sync.Mutex
	// kept are the files each job kept as artifacts, by job.
	kept map[string][]string
	// dotenv are the variables of each job's dotenv reports.
	dotenv map[string][]string
}

// Run executes p: a job starts when the jobs it needs (GitLab needs:),
// else every job of the stages before, have finished. After a failure
// only the jobs that ask to run on failure (or always) run.
func (r *Runner) Run(ctx context.Context, p *plan.Plan, o Options) Result {
	rn := &run{Runner: r, plan: p, id: o.ID, workspace: o.Workspace, events: o.Events,
		masker: secret.NewMasker(maskedValues(p)), artifacts: o.Artifacts, project: o.Project, given: o.Given,
		kept: map[string][]string{}, dotenv: maps.Clone(o.GivenDotenv)}
	return rn.run(ctx)
}

func (r *run) run(ctx context.Context) Result {
	for _, name := range r.masker.Skipped() {
		r.say("", "Secret %s is shorter than %d characters and is not masked in the output", name, secret.MinLen)
	}
	if len(r.plan.Jobs()) == 0 {
		// Conditions (Drone's trigger:/when:) can leave a file nothing to
		// run; say so rather than end in silence.
		r.say("", "Nothing to run: every job was left out (the warnings above say why)")
	}
	res := Result{Jobs: r.schedule(ctx)}
	r.mu.Lock()
	res.Dotenv = r.dotenv
	r.mu.Unlock()
	r.listArtifacts()
	return res
}

// say reports a line of the runner's own, secrets masked.
func (r *run) say(job, format string, args ...any) {
	r.events.Message(job, r.masker.String(fmt.Sprintf(format, args...)))
}

// maskedValues are the plan's secrets plus every registry credential the
// plan holds (inline auth_config, pull secrets, DOCKER_AUTH_CONFIG in a
// job's variables or the configuration's environment): a registry whose
// error echoes what it was sent must not print them. Values shorter than
// the masker's minimum are left out: they are not the user's secrets and
// would only draw a "not masked" line.
func maskedValues(p *plan.Plan) map[string]string {
	out := make(map[string]string, len(p.Secrets))
	for k, v := range p.Secrets {
		out[k] = v
	}
	var creds []string
	add := func(doc string) { creds = append(creds, image.SecretValues([]byte(doc))...) }
	if v, ok := image.LookupEnv(p.RunnerEnv, image.AuthConfigVar); ok {
		add(v)
	}
	for _, j := range p.Jobs() {
		if v, ok := image.LookupEnv(jobEnv(j), image.AuthConfigVar); ok {
			add(v)
		}
		for _, name := range j.PullSecrets {
			add(p.Secrets[name])
		}
		for _, img := range images(j) {
			if a := img.Auth; a != nil {
				creds = append(creds, image.CredentialValues(a.Username, a.Password)...)
			}
		}
	}
	for i, v := range creds {
		if len(v) >= secret.MinLen {
			out[fmt.Sprintf("registry credential %d", i+1)] = v
		}
	}
	return out
}

// images are the images of a job's steps and services.
func images(j *plan.Job) []pipeline.Image {
	var out []pipeline.Image
	for _, st := range j.Steps {
		out = append(out, st.Image)
	}
	for _, svc := range j.Services {
		out = append(out, svc.Image)
	}
	return out
}
