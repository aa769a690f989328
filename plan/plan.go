// Package plan turns a parsed pipeline and a runner's configuration into a
// Plan: the jobs as this runner will run them, with the configuration
// applied (default image, pull policies, services, volumes, environment)
// and every check done that can be done before anything starts (trust,
// allow-lists, secrets, image names). A Plan is what the runner takes; a
// pipeline.Pipeline is only what a file says.
package plan

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
)

// Plan is a pipeline prepared for one runner.
type Plan struct {
	File    string
	Dialect pipeline.Dialect
	Stages  []Stage
	// Secrets are the values of the secrets the run was given, by name:
	// Drone's from_secret and image_pull_secrets, GitLab's secrets:.
	Secrets map[string]string
	// RunnerEnv is the configuration's [[runners]] environment, as
	// NAME=VALUE: its DOCKER_AUTH_CONFIG is for pulls only.
	RunnerEnv []string
	// MissingSecrets are the secrets a lint was not given, which
	// placeholders stand in for (Options.Lint); such a plan cannot run.
	MissingSecrets []string
}

// Stage is a group of prepared jobs.
type Stage struct {
	Name string
	Jobs []*Job
}

// Job is a prepared job: its images resolved and allowed, its environment
// complete, the configuration's settings applied.
type Job struct {
	*pipeline.Job
}

// Jobs lists every job in stage order.
func (p *Plan) Jobs() []*Job {
	var out []*Job
	for _, s := range p.Stages {
		out = append(out, s.Jobs...)
	}
	return out
}

// Options are what a run adds to the runner configuration: the command
// line of `slipway exec`, or what a server sends with a job.
type Options struct {
	// ConfigPath names the runner configuration in messages.
	ConfigPath string
	// Trusted allows what a file asks of the host.
	Trusted bool
	// TrustRemedy says, in refusals, how the run becomes trusted
	// (default: slipway exec --trusted). A runner of a server names the
	// repository setting instead.
	TrustRemedy string
	// Env is NAME=VALUE added to every step and service, above the file.
	Env []string
	// Secrets are secret values by name.
	Secrets map[string]string
	// DefaultImage (--default-image) is the image of jobs that name
	// none, over the configuration's.
	DefaultImage string
	// Lint plans without running: what only a run needs (an image for a
	// job that names none, the values of secrets) is a warning, not an
	// error.
	Lint bool
}

// Prepare applies the runner configuration r and the options o to p, which
// it takes over, and checks the result. Every error is the user's input:
// the file, the configuration or the options.
func Prepare(p *pipeline.Pipeline, r config.Runner, o Options) (*Plan, []*pipeline.Warning, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", o.ConfigPath, err)
	}
	target, _ := pipeline.ParseTarget(r.Executor)
	if target == pipeline.TargetKubernetes && p.Dialect == pipeline.GitLab {
		// The executor, not the file, says where GitLab jobs run.
		for _, j := range p.Jobs() {
			j.Target = pipeline.TargetKubernetes
		}
	}
	var warns, missingWarns []*pipeline.Warning
	var missing []string
	if o.Lint {
		o.Secrets, missing, missingWarns = placeholders(p, o.Secrets)
	}
	if p.Dialect == pipeline.GitLab {
		warns = selectTagged(p, r)
		svcWarns, err := gitlab.AddRunnerServices(p, runnerServices(r), o.ConfigPath)
		if err != nil {
			return nil, nil, err
		}
		warns = append(warns, svcWarns...)
	}
	pol, err := policy(r, o)
	if err != nil {
		return nil, nil, err
	}
	err = apply(p, pol)
	notes, pluginErrs := privilegedPlugins(p, pol)
	err = errors.Join(append([]error{err}, pluginErrs...)...)
	if o.Lint {
		var demoted []*pipeline.Warning
		demoted, err = demote(err)
		warns = append(warns, demoted...)
	}
	if err != nil {
		return nil, warns, err
	}
	warns = append(warns, notes...)
	pl := wrap(p, o.Secrets, r.Environment)
	pl.MissingSecrets = missing
	return pl, append(warns, missingWarns...), nil
}

// runnerServices are the configuration's services, which gitlab-runner
// adds to every GitLab job.
func runnerServices(r config.Runner) []gitlab.RunnerService {
	var out []gitlab.RunnerService
	for _, s := range r.Settings().Services {
		out = append(out, gitlab.RunnerService{Name: s.Name, Alias: s.Alias, Entrypoint: s.Entrypoint, Command: s.Command})
	}
	return out
}

// wrap makes the plan of an already prepared pipeline.
func wrap(p *pipeline.Pipeline, secrets map[string]string, runnerEnv []string) *Plan {
	out := &Plan{File: p.File, Dialect: p.Dialect, Secrets: secrets, RunnerEnv: runnerEnv}
	for _, s := range p.Stages {
		st := Stage{Name: s.Name}
		for _, j := range s.Jobs {
			st.Jobs = append(st.Jobs, &Job{Job: j})
		}
		out.Stages = append(out.Stages, st)
	}
	return out
}

// policy reads the configuration and the options into the rules apply
// enforces.
func policy(r config.Runner, o Options) (Policy, error) {
	d := r.Settings()
	pol := Policy{
		Trusted:          o.Trusted,
		TrustRemedy:      o.TrustRemedy,
		DefaultImage:     cmp.Or(o.DefaultImage, d.Image),
		AllowedImages:    d.AllowedImages,
		AllowedServices:  d.AllowedServices,
		Privileged:       d.Privileged,
		Volumes:          d.Volumes,
		CapAdd:           d.CapAdd,
		Devices:          d.Devices,
		ForbidHostAccess: d.ForbidHostAccess,
		AllowedHostPaths: d.AllowedHostPaths,
		PrivilegedImages: d.PrivilegedImages,
		Secrets:          o.Secrets,
	}
	// As gitlab-runner, [[runners]] environment goes into every job,
	// below the file's variables and --env. DOCKER_AUTH_CONFIG there is
	// only for pulling images, and is kept out of the containers.
	for _, kv := range r.Environment {
		v, err := envVar(kv)
		if err != nil {
			return pol, fmt.Errorf("%s: environment entry %v", o.ConfigPath, err)
		}
		if v.Name != image.AuthConfigVar {
			pol.BaseEnv = append(pol.BaseEnv, v)
		}
	}
	for _, kv := range o.Env {
		v, err := envVar(kv)
		if err != nil {
			return pol, fmt.Errorf("--env %v", err)
		}
		pol.Env = append(pol.Env, v)
	}
	var err error
	if pol.PullPolicy, err = policies(d.PullPolicy, "pull_policy"); err != nil {
		return pol, err
	}
	// As gitlab-runner: without allowed_pull_policies, a file may ask
	// only for what pull_policy lists (anything, when neither is set).
	allowed := d.AllowedPullPolicies
	if len(allowed) == 0 {
		allowed = d.PullPolicy
	}
	pol.AllowedPullPolicies, err = policies(allowed, "allowed_pull_policies")
	return pol, err
}

func envVar(kv string) (pipeline.EnvVar, error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok || name == "" {
		return pipeline.EnvVar{}, fmt.Errorf("%q: expected NAME=VALUE", kv)
	}
	return pipeline.EnvVar{Name: name, Value: value}, nil
}

// policies parses a pull-policy list of the runner configuration.
func policies(names []string, key string) ([]pipeline.PullPolicy, error) {
	var out []pipeline.PullPolicy
	for _, n := range names {
		p, err := image.ParsePolicy(n)
		if err != nil {
			return nil, fmt.Errorf("runner configuration %s: %v", key, err)
		}
		out = append(out, p)
	}
	return out, nil
}
