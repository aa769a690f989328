package gitlab

import (
	"cmp"
	"strings"
)

// RunnerInfo is what gitlab-runner says of itself in CI_RUNNER_*.
// Empty fields take local defaults.
type RunnerInfo struct {
	ID          string   // CI_RUNNER_ID; "1" when empty
	Description string   // CI_RUNNER_DESCRIPTION: the configuration's runner name; "slipway" when empty
	Tags        []string // CI_RUNNER_TAGS, joined by ", " as GitLab shows them
	Version     string   // CI_RUNNER_VERSION
	Revision    string   // CI_RUNNER_REVISION
	Arch        string   // CI_RUNNER_EXECUTABLE_ARCH, as gitlab-runner: "linux/amd64"
}

// runnerVars are the runner's CI_RUNNER_* variables. GitLab makes them
// available to jobs only, not to rules: (the runner is picked after the
// pipeline is made), so they are added after rules decide.
func (p *parser) runnerVars() []variable { return p.opts.Runner.vars() }

// Env is the CI_RUNNER_* variables as NAME=VALUE, those with a value: a
// runner agent adds them to the jobs of a server, which parsed the file
// before it knew which runner would take them.
func (r RunnerInfo) Env() []string {
	var out []string
	for _, v := range r.vars() {
		out = append(out, v.name+"="+v.value)
	}
	return out
}

func (r RunnerInfo) vars() []variable {
	vars := []variable{
		{name: "CI_RUNNER_ID", value: cmp.Or(r.ID, "1")},
		{name: "CI_RUNNER_DESCRIPTION", value: cmp.Or(r.Description, "slipway")},
		{name: "CI_RUNNER_TAGS", value: strings.Join(r.Tags, ", ")},
		{name: "CI_RUNNER_VERSION", value: r.Version},
		{name: "CI_RUNNER_REVISION", value: r.Revision},
		{name: "CI_RUNNER_EXECUTABLE_ARCH", value: r.Arch},
	}
	return nonEmpty(vars)
}
