// Package drone turns a .drone.yml into the pipeline model.
//
// It reads Drone 1.x files (one or more documents of kind: pipeline, type
// docker or kubernetes, with a list of steps) and Drone 0.x files (a
// pipeline: map of step name to step and a services: map). Every pipeline
// document becomes one pipeline.Job whose steps share one network namespace
// with its services (NetworkSharedLocalhost); services also answer to their
// name.
//
// As Drone does, the file is first substituted: ${NAME...} with the
// build's variables (from the Context; subst.go), and every container gets
// Drone's variables (environ.go); empty values are left unset.
//
// Choices where Drone and the model differ:
//
//   - Pipelines form Drone's graph: each is a DAG job that needs the
//     pipelines its depends_on names (a skipped one stands for what it
//     depends on, as in Drone's graph), so it starts when those have
//     finished, independent pipelines run side by side, and a failure
//     skips only the pipelines after it. trigger: status is matched
//     against those it depends on (Drone looks at every stage finished
//     so far, which depends on timing). For the plan's display, they are
//     also layered into stages named stage-1, stage-2, ...: each
//     pipeline in the first stage after all those it depends on.
//   - Steps run one at a time. depends_on between steps reorders them into
//     the same layers, so every step runs after what it depends on; the
//     implicit clone step counts as done. 0.x group: runs in file order.
//   - Workspace: as drone-runner-docker, the volume at workspace.base
//     (default /drone/src, or an absolute path with no base), the checkout
//     at base/path.
//   - Volumes: a host volume mounts its absolute host path (Source is that
//     path); a temp volume's Source is its name, never absolute, for the
//     engine to create per job (a tmpfs with medium: memory). 0.x
//     "/host:/container[:ro]" strings are host mounts, "/path" an anonymous
//     volume of the container. Trust is checked later, from the recorded
//     positions.
//   - Host settings: devices (1.x {name, path} naming a host volume, 0.x
//     "/dev/host[:/dev/ctr[:rwm]]"), cap_add, network_mode: host (the
//     only mode accepted: others would leave the pipeline's network), dns,
//     dns_search and extra_hosts are read with their positions for the
//     trust check.
//   - Conditions (a step's when:, a pipeline's trigger:): status becomes
//     the model's When (run on success, on failure, or always); branch,
//     event, ref, repo, instance, target, cron and action are matched
//     against the Context (Drone's globs, include/exclude), and what does
//     not match is left out with a warning. A skipped dependency counts as
//     done for depends_on. A pipeline for another platform: than the
//     Context's, or of a type another runner runs (exec, vm, ...), is left
//     out the same way. 0.x status: changed never matches (no previous
//     build); when: matrix: is matched against the axis.
//   - Drone 0.x: a step name may repeat; matrix: makes one pipeline per
//     combination, each read with the axis's values substituted.
//   - Keys Drone has and the model cannot express (resources, ...) are
//     warned about and ignored; unknown keys are warned
//     about, except on a 0.x plugin step, where Drone took them as settings.
//   - Extensions: timeout (a duration or minutes) on a pipeline; a document
//     with steps but no kind is taken as a pipeline, with a warning.
//
// The parser walks yaml.Node trees rather than decoding into structs so that
// every error and warning can point at file:line:column, and so that
// several errors can be reported at once. Credentials (auth_config) never
// appear in messages; the model redacts them in JSON.
package drone

import (
	"fmt"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Parse reads a .drone.yml. file names it in errors and warnings; ctx is
// what when: and trigger: conditions are matched against (steps and
// pipelines that do not match are left out, with a warning saying why).
// On error the pipeline is nil and the error is an errors.Join of
// *pipeline.Error, sorted by position.
func Parse(file string, data []byte, ctx Context) (*pipeline.Pipeline, []*pipeline.Warning, error) {
	p := &parser{file: file, ctx: ctx.normalized()}
	var jobs []*jobDoc
	if axes := p.matrix(data); axes != nil {
		seen := map[string]int{}
		for _, a := range axes {
			for _, j := range p.read(data, a) {
				// An include: list may repeat a combination; Drone runs
				// each.
				if seen[j.job.Name]++; seen[j.job.Name] > 1 {
					j.job.Name += fmt.Sprintf(" #%d", seen[j.job.Name])
				}
				jobs = append(jobs, j)
			}
		}
	} else {
		jobs = p.read(data, nil)
	}
	stages := p.stages(jobs)
	p.allForeign(jobs)
	if len(jobs) == 0 && len(p.errs) == 0 {
		p.errorAt(pipeline.Pos{File: file, Line: 1, Column: 1},
			"no pipeline found: expected a document with kind: pipeline (Drone 1.x) or a pipeline: map (Drone 0.x)")
	}
	warns := yamlutil.Tidy(p.warns, yamlutil.MaxWarnings, "warnings")
	if len(p.errs) > 0 {
		return nil, warns, yamlutil.Join(yamlutil.Tidy(p.errs, yamlutil.MaxErrors, "errors"))
	}
	return &pipeline.Pipeline{File: file, Dialect: pipeline.Drone, Stages: stages}, warns, nil
}

// read substitutes Drone's variables (and the matrix axis's, if any) into
// the file and reads its documents.
func (p *parser) read(data []byte, a axis) []*jobDoc {
	p.axis = a
	// On a syntax error (which ends the file) or a limit passed, the
	// documents before it are still checked, so their errors show too.
	docs, err := words.Load(p.file, p.substitute(data, p.lineStages(data)))
	p.errs = append(p.errs, yamlutil.Problems(p.file, err)...)
	var jobs []*jobDoc
	for _, d := range docs {
		j := p.document(d)
		if j == nil {
			continue
		}
		if a != nil {
			j.job.Name = a.name()
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// allForeign refuses a file none of whose pipelines slipway can run
// because of their type: there is nothing to plan.
func (p *parser) allForeign(jobs []*jobDoc) {
	for _, j := range jobs {
		if j.foreign == "" {
			return
		}
	}
	if len(jobs) > 0 {
		p.errorf(jobs[0].foreignAt, "no pipeline slipway can run: %s", jobs[0].foreign)
	}
}

// parser collects errors and warnings while walking one file.
type parser struct {
	file string
	ctx  Context
	// documents counts the pipeline documents, to number them.
	documents int
	// axis is the matrix combination being read, or nil.
	axis  axis
	errs  []*pipeline.Error
	warns []*pipeline.Warning
}

func (p *parser) pos(n *yaml.Node) pipeline.Pos { return yamlutil.Pos(p.file, n) }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errorAt(p.pos(n), format, args...)
}

func (p *parser) errorAt(pos pipeline.Pos, format string, args ...any) {
	p.errs = append(p.errs, pipeline.Errorf(pos, format, args...))
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	p.warns = append(p.warns, pipeline.Errorf(p.pos(n), format, args...))
}
