package plan

import (
	"maps"
	"slices"

	"github.com/slipway-ci/slipway/pipeline"
)

// placeholders lets a lint go on without the secrets' values: lint runs
// nothing, so a secret that was not given is a warning, and a placeholder
// stands in for it so that the checks pass. exec does not set Lint and
// refuses, before anything starts, a step whose secret is missing.
// It returns the secrets with the placeholders added, and the names of
// the missing ones.
func placeholders(p *pipeline.Pipeline, given map[string]string) (map[string]string, []string, []*pipeline.Warning) {
	secrets := maps.Clone(given)
	if secrets == nil {
		secrets = map[string]string{}
	}
	var missing []string
	var warns []*pipeline.Warning
	need := func(j *pipeline.Job, name, what string) {
		if _, ok := secrets[name]; ok {
			return
		}
		secrets[name] = "<secret " + name + ">"
		missing = append(missing, name)
		warns = append(warns, pipeline.Errorf(j.Pos,
			"%s needs secret %q, which was not given: lint goes on without it; exec refuses to run (use --secret %s=VALUE)", what, name, name))
	}
	for _, j := range p.Jobs() {
		for _, name := range j.PullSecrets {
			need(j, name, "image_pull_secrets")
		}
		for _, c := range containers(j) {
			for _, v := range c.Env {
				if v.FromSecret != "" {
					need(j, v.FromSecret, c.Name+" "+v.Name)
				}
			}
		}
	}
	slices.Sort(missing)
	return secrets, missing, warns
}

// containers lists a job's steps and services.
func containers(j *pipeline.Job) []*pipeline.Container {
	var out []*pipeline.Container
	for _, s := range j.Steps {
		out = append(out, &s.Container)
	}
	for _, s := range j.Services {
		out = append(out, &s.Container)
	}
	return out
}
