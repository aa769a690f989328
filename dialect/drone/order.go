package drone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// layers puts item i in the first layer after all of deps[i] (indexes of
// items), keeping file order within a layer. The items it cannot place are
// on or behind a dependency cycle; cycle returns one such cycle.
func layers(deps [][]int) (out [][]int, stuck []int) {
	indeg := make([]int, len(deps))
	dependents := make([][]int, len(deps))
	for i, ds := range deps {
		for _, j := range uniq(ds) {
			indeg[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	var cur []int
	for i := range deps {
		if indeg[i] == 0 {
			cur = append(cur, i)
		}
	}
	placed := 0
	for len(cur) > 0 {
		out = append(out, cur)
		placed += len(cur)
		var next []int
		for _, j := range cur {
			for _, i := range dependents[j] {
				if indeg[i]--; indeg[i] == 0 {
					next = append(next, i)
				}
			}
		}
		slices.Sort(next)
		cur = next
	}
	for i := range deps {
		if indeg[i] > 0 {
			stuck = append(stuck, i)
		}
	}
	return out, stuck
}

func uniq(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// cycle finds a cycle among stuck items: each has an unplaced dependency,
// so following those must come back to an item already on the path.
func cycle(deps [][]int, stuck []int) []int {
	isStuck := map[int]bool{}
	for _, i := range stuck {
		isStuck[i] = true
	}
	onPath := map[int]int{}
	var path []int
	for i := stuck[0]; ; {
		if at, ok := onPath[i]; ok {
			return append(path[at:], i)
		}
		onPath[i] = len(path)
		path = append(path, i)
		next := -1
		for _, j := range deps[i] {
			if isStuck[j] {
				next = j
				break
			}
		}
		if next < 0 { // cannot happen: a stuck item has a stuck dependency
			return path
		}
		i = next
	}
}

// depIndexes turns dependency names into indexes. known holds every name
// that may be depended on without error; names in known but not in index
// (services, steps that failed to parse) are skipped.
func (p *parser) depIndexes(nodes []*yaml.Node, index map[string]int, known func(string) bool, what string) []int {
	var out []int
	for _, n := range nodes {
		if i, ok := index[n.Value]; ok {
			out = append(out, i)
		} else if !known(n.Value) {
			p.errorf(n, "depends_on: unknown %s %s", what, quote(n.Value))
		}
	}
	return out
}

// orderSteps runs steps in an order that honours their depends_on: in
// layers, each step after everything it depends on. Steps without
// depends_on stay in file order. Running the layers one step at a time is
// one valid schedule of Drone's graph.
func (p *parser) orderSteps(d *jobDoc) {
	steps := d.job.Steps
	index := map[string]int{}
	for i, s := range steps {
		index[s.Name] = i
	}
	// The implicit clone step runs first: depending on it is depending
	// on nothing.
	known := func(name string) bool { _, ok := d.names[name]; return ok || name == "clone" && !d.noClone }
	deps := make([][]int, len(steps))
	for i, s := range steps {
		deps[i] = p.depIndexes(d.stepDeps[s].names, index, known, "step")
	}
	ls, stuck := layers(deps)
	if len(stuck) > 0 {
		c := cycle(deps, stuck)
		p.errorf(d.stepDeps[steps[c[0]]].key, "depends_on: steps depend on each other in a cycle: %s",
			names(c, func(i int) string { return steps[i].Name }))
		return
	}
	d.job.Steps = d.job.Steps[:0:0]
	for _, l := range ls {
		for _, i := range l {
			d.job.Steps = append(d.job.Steps, steps[i])
		}
	}
}

func names(idx []int, name func(int) string) string {
	var s []string
	for _, i := range idx {
		s = append(s, name(i))
	}
	return strings.Join(s, " -> ")
}

// stages orders the pipeline documents into stages named stage-1,
// stage-2, ...: each pipeline goes into the first stage after all the
// pipelines its depends_on names. The stages are for the eye: every job
// is a DAG job that needs exactly the pipelines it depends on, so the
// runner starts a pipeline once those have finished, runs independent
// ones side by side, and a failure stops only what depends on it.
func (p *parser) stages(all []*jobDoc) []pipeline.Stage {
	// Pipelines trigger: leaves out are not run. As Drone's graph does,
	// depending on one is depending on what it depends on.
	skipped := map[string]*jobDoc{}
	var jobs []*jobDoc
	for _, j := range all {
		if j.skip != "" {
			p.warnf(j.skipAt, "pipeline %s is skipped: %s", quote(j.job.Name), j.skip)
			skipped[j.job.Name] = j
			continue
		}
		jobs = append(jobs, j)
	}
	index := map[string]int{}
	for i, j := range jobs {
		if prev, dup := index[j.job.Name]; dup {
			p.errorf(j.nameAt(), "duplicate pipeline name %s (first defined at line %d)",
				quote(j.job.Name), jobs[prev].nameAt().Line)
			continue
		}
		index[j.job.Name] = i
	}
	deps := make([][]int, len(jobs))
	for i, j := range jobs {
		known := func(name string) bool { return skipped[name] != nil }
		through := throughSkipped(j.deps, skipped, func(name string) bool { _, ok := index[name]; return ok })
		deps[i] = p.depIndexes(through, index, known, "pipeline")
	}
	ls, stuck := layers(deps)
	if len(stuck) > 0 {
		c := cycle(deps, stuck)
		p.errorf(jobs[c[0]].depsKey, "depends_on: pipelines depend on each other in a cycle: %s",
			names(c, func(i int) string { return jobs[i].job.Name }))
		return nil
	}
	for i, j := range jobs {
		j.job.DAG, j.job.Needs = true, nil
		for _, d := range uniq(deps[i]) {
			j.job.Needs = append(j.job.Needs, jobs[d].job.Name)
		}
	}
	var out []pipeline.Stage
	for n, l := range ls {
		st := pipeline.Stage{Name: fmt.Sprintf("stage-%d", n+1)}
		for _, i := range l {
			st.Jobs = append(st.Jobs, jobs[i].job)
		}
		out = append(out, st)
	}
	return out
}

// throughSkipped replaces, in a depends_on list, each skipped pipeline by
// the pipelines it depends on, as Drone's graph skips over a skipped
// stage: a pipeline after a skipped one still waits for what came before.
// Unknown names in a skipped pipeline's own list are dropped: only the
// list of a pipeline that runs is checked.
func throughSkipped(deps []*yaml.Node, skipped map[string]*jobDoc, exists func(string) bool) []*yaml.Node {
	var out []*yaml.Node
	seen := map[string]bool{}
	var walk func(deps []*yaml.Node, top bool)
	walk = func(deps []*yaml.Node, top bool) {
		for _, n := range deps {
			s := skipped[n.Value]
			switch {
			case s == nil && (top || exists(n.Value)):
				out = append(out, n)
			case s != nil && !seen[n.Value]:
				seen[n.Value] = true
				walk(s.deps, false)
			}
		}
	}
	walk(deps, true)
	return out
}
