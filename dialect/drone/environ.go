package drone

import (
	"fmt"
	"maps"
	"slices"

	"github.com/slipway-ci/slipway/pipeline"
)

// stageEnv is what Drone adds for the pipeline document (its stage) on
// top of the build's variables, the workspace's included.
func (p *parser) stageEnv(d *jobDoc) map[string]string {
	env := p.ctx.buildEnv()
	maps.Copy(env, p.ctx.runnerEnv())
	maps.Copy(env, p.stageVars(d))
	maps.Copy(env, map[string]string{
		"DRONE_WORKSPACE": d.job.Workspace, "DRONE_WORKSPACE_BASE": d.wsBase, "DRONE_WORKSPACE_PATH": d.wsPath,
		"CI_WORKSPACE": d.job.Workspace, "CI_WORKSPACE_BASE": d.wsBase, "CI_WORKSPACE_PATH": d.wsPath,
	})
	return env
}

// containerEnv is a step's or service's environment as Drone's runner
// builds it: the pipeline's environment, then Drone's variables (which
// the pipeline's cannot override), then the step's own and its settings.
// Empty values are left out: Drone does not set them.
func (p *parser) containerEnv(d *jobDoc, c *container) []pipeline.EnvVar {
	drone := p.stageEnv(d)
	drone["DRONE_STEP_NAME"] = c.name
	drone["DRONE_STEP_NUMBER"] = fmt.Sprint(c.number)
	var builtin []pipeline.EnvVar
	for _, name := range slices.Sorted(maps.Keys(drone)) {
		builtin = append(builtin, pipeline.EnvVar{Name: name, Value: drone[name]})
	}
	env := mergeEnv(d.env, p.axis.env(), builtin, c.env, c.settings)
	return slices.DeleteFunc(env, func(e pipeline.EnvVar) bool { return e.Value == "" && e.FromSecret == "" })
}
