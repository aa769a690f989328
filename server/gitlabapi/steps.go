package gitlabapi

import (
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// gitlabSteps are a GitLab job's steps as GitLab sends them: the dialect's
// "script" step (before_script + script) and its Always "after_script"
// step.
func gitlabSteps(j *pipeline.Job) []step {
	t := timeout(j)
	out := []step{}
	for _, s := range j.Steps {
		st := step{Name: s.Name, Script: slices.Clone(s.Commands), Timeout: t, When: "on_success",
			AllowFailure: s.IgnoreFailure}
		if s.Always {
			st.Name, st.When = "after_script", "always"
		}
		if st.Script == nil {
			st.Script = []string{}
		}
		out = append(out, st)
	}
	return out
}

// unsupportedSteps are what a stock gitlab-runner is sent for a job it
// cannot run (a Drone pipeline): one step that fails saying why.
func unsupportedSteps(jc *jobContext) []step {
	msg := "slipway: job " + jc.claimed.Job.Name + " is a " + dialectName(jc.doc.Pipeline.Dialect) +
		" pipeline (" + jc.doc.Pipeline.File + "): only a slipway runner (slipway runner run) can run it"
	return []step{{Name: "script", Script: []string{"echo " + shellQuote(msg) + " >&2", "exit 1"},
		Timeout: timeout(jc.job), When: "on_success"}}
}

func dialectName(d pipeline.Dialect) string {
	if d == pipeline.Drone {
		return "Drone"
	}
	return string(d)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// jobImage is the image of the job's steps (the dialect gives every step
// of a GitLab job the job's image).
func jobImage(j *pipeline.Job) imageSpec {
	if len(j.Steps) == 0 || j.Steps[0].Image.Name == "" {
		return imageSpec{Ports: []any{}}
	}
	c := j.Steps[0].Container
	return imageSpec{Name: c.Image.Name, Entrypoint: entrypoint(c.Entrypoint), Command: c.Command,
		Ports: []any{}, PullPolicy: pullPolicy(c.Image.Pull)}
}

// services are the job's services; alias lists only the user's aliases
// (the runner derives the default ones from the image name itself).
func services(j *pipeline.Job) []imageSpec {
	out := []imageSpec{}
	for _, s := range j.Services {
		spec := imageSpec{Name: s.Image.Name, Alias: strings.Join(userAliases(s), ","),
			Entrypoint: entrypoint(s.Entrypoint), Command: s.Command, Ports: []any{},
			PullPolicy: pullPolicy(s.Image.Pull)}
		for _, e := range s.Env {
			if e.FromSecret == "" {
				spec.Variables = append(spec.Variables, serviceVar{Key: e.Name, Value: e.Value})
			}
		}
		out = append(out, spec)
	}
	return out
}

// entrypoint is GitLab's form: nil keeps the image's, [""] clears it.
func entrypoint(ep []string) []string {
	if ep != nil && len(ep) == 0 {
		return []string{""}
	}
	return ep
}

// pullPolicy spells the model's policies as GitLab does.
func pullPolicy(p []pipeline.PullPolicy) []string {
	var out []string
	for _, x := range p {
		if x == pipeline.PullIfNotExists {
			out = append(out, "if-not-present")
		} else {
			out = append(out, string(x))
		}
	}
	return out
}

// userAliases are a service's aliases without the default ones GitLab
// derives from the image name (without tag or digest, "/" as "__" or "-",
// ":" as "-"), which the dialect lists first.
func userAliases(s *pipeline.Service) []string {
	name := s.Image.Name
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	name = strings.ReplaceAll(name, ":", "-")
	derived := []string{strings.ReplaceAll(name, "/", "__"), strings.ReplaceAll(name, "/", "-")}
	var out []string
	for _, a := range s.Aliases {
		if !slices.Contains(derived, a) {
			out = append(out, a)
		}
	}
	return out
}
