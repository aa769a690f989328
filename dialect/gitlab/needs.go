package gitlab

import (
	"fmt"
	"slices"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// need is one entry of needs:.
type need struct {
	at          *yaml.Node
	job         string
	optional    bool
	noArtifacts bool // artifacts: false
}

// needs reads needs:: a list of job names or {job:, artifacts:,
// optional:} maps. Needs on other pipelines or projects are left out
// with a warning: a local run has only this pipeline. The result is
// empty but not nil for needs: [].
func (p *parser) needs(n *yaml.Node) []need {
	v := p.value(n)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "needs: expected a list of jobs, got %s", yamlutil.Describe(v))
		return nil
	}
	out := items(p, v.Content, p.value, "needs: expected a job name or a map with job:",
		func(at *yaml.Node, s string) need { return need{at: at, job: s} }, p.needMap)
	if out == nil {
		return []need{} // needs: [] is not the same as no needs:
	}
	return out
}

// items reads a list whose items are strings or maps, each by its own
// reader (resolving values with value); anything else is reported as
// not what was expected.
func items[T any](p *parser, list []*yaml.Node, value func(*yaml.Node) *yaml.Node, expected string,
	fromString func(*yaml.Node, string) T, fromMap func(*yaml.Node) (T, bool)) []T {
	var out []T
	for _, it := range list {
		it = value(it)
		if s, ok := p.plainString(it); ok {
			out = append(out, fromString(it, s))
			continue
		}
		if it == nil || it.Kind != yaml.MappingNode {
			p.errorf(it, "%s, got %s", expected, yamlutil.Describe(it))
			continue
		}
		if x, ok := fromMap(it); ok {
			out = append(out, x)
		}
	}
	return out
}

func (p *parser) needMap(m *yaml.Node) (need, bool) {
	nd := need{at: m}
	for _, e := range p.pairs(m) {
		switch k := e.Key.Value; k {
		case "job":
			nd.job, _ = p.str("needs: job", e.Value)
		case "optional":
			nd.optional, _ = p.boolean("needs: optional", e.Value)
		case "pipeline", "project":
			p.warnf(e.Key, "needs: %s: a need on another pipeline or project is left out: a local run has only this pipeline", k)
			return nd, false
		case "artifacts":
			b, _ := p.boolean("needs: artifacts", e.Value)
			nd.noArtifacts = !b
		case "ref", "parallel":
			// parallel: narrows a matrix need, taken here as all of it.
		default:
			p.warnf(e.Key, "unknown key %s in needs:", k)
		}
	}
	if nd.job == "" {
		p.errorf(m, "needs: job: is required")
		return nd, false
	}
	return nd, true
}

// planned is a job that runs, with what the DAG needs to know of it.
type planned struct {
	job   *pipeline.Job
	base  string // the job's name in the file (before parallel: suffixes)
	stage int
	needs []need
	has   bool // needs: was written
	// deps are the names of dependencies:, nil when not written.
	deps   []string
	depsAt *yaml.Node
}

// resolveNeeds sets each job's Needs to the planned jobs its needs: name
// (every instance of a parallel: job), checking as GitLab does that each
// exists in this pipeline, in an earlier stage or the same one.
func (p *parser) resolveNeeds(jobs []planned, file map[string]bool) {
	// A need names a job of the file (all its parallel: instances) or
	// one instance by its full name ("build: [linux]").
	byBase := map[string][]planned{}
	for _, j := range jobs {
		byBase[j.base] = append(byBase[j.base], j)
		if j.job.Name != j.base {
			byBase[j.job.Name] = []planned{j}
		}
	}
	for _, j := range jobs {
		if !j.has {
			continue
		}
		j.job.DAG = true
		for _, nd := range j.needs {
			targets, ok := byBase[nd.job]
			switch {
			case !ok && nd.optional:
			case !ok && file[nd.job]:
				p.errorf(nd.at, "job %s needs %s, which does not run for %s (mark the need optional: true)", j.base, nd.job, describeRef(p.ref))
			case !ok:
				p.errorf(nd.at, "job %s needs %s, which is not a job of this pipeline", j.base, nd.job)
			case targets[0].stage > j.stage:
				p.errorf(nd.at, "job %s needs %s, which is in a later stage", j.base, nd.job)
			}
			for _, t := range targets {
				j.job.Needs = append(j.job.Needs, t.job.Name)
			}
		}
	}
	p.artifactsFrom(jobs, byBase)
}

// needsFirst orders a stage's jobs so that a job comes after those of
// the same stage it needs, keeping file order otherwise (a stable
// topological sort; stages are small); it returns
// false on a cycle, which it reports.
func (p *parser) needsFirst(stage []*pipeline.Job) bool {
	in := map[string]bool{}
	for _, j := range stage {
		in[j.Name] = true
	}
	done := map[string]bool{}
	var out []*pipeline.Job
	for len(out) < len(stage) {
		progress := false
		for _, j := range stage {
			if done[j.Name] || slices.ContainsFunc(j.Needs, func(n string) bool { return in[n] && !done[n] }) {
				continue
			}
			done[j.Name], progress = true, true
			out = append(out, j)
			break // the earliest ready job first: file order where it can be
		}
		if !progress {
			p.errs = append(p.errs, pipeline.Errorf(stage[0].Pos, "needs: the jobs of one stage need each other in a cycle (%s)", cycleNames(stage, done)))
			return false
		}
	}
	copy(stage, out)
	return true
}

func cycleNames(stage []*pipeline.Job, done map[string]bool) string {
	var names []string
	for _, j := range stage {
		if !done[j.Name] {
			names = append(names, j.Name)
		}
	}
	return fmt.Sprint(names)
}
