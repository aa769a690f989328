package gitlab

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// maxChildDepth is GitLab's limit: a parent, its child, its grandchild.
const maxChildDepth = 2

// triggerSpec is a trigger: with include: local, a child pipeline made
// of files of this project.
type triggerSpec struct {
	at       *yaml.Node
	files    []string
	depend   bool // strategy: depend
	yamlVars bool // forward: yaml_variables (true by default)
}

// child is a child pipeline that runs: its stages come right after the
// stage of the job that triggers it.
type child struct {
	trigger string
	stage   string
	stages  []pipeline.Stage
}

// trigger reads trigger:. It returns nil, and why, when the trigger is
// one a local run cannot follow (another project, an artifact, a
// template or a remote file).
func (p *parser) trigger(n *yaml.Node) (*triggerSpec, string) {
	v := p.value(n)
	if s, ok := p.plainString(v); ok {
		return nil, fmt.Sprintf("it triggers project %s, another repository's pipeline, which a local run does not have", s)
	}
	entries, ok := p.mapping("trigger", n)
	if !ok {
		return nil, "its trigger: could not be read"
	}
	t := &triggerSpec{at: v, yamlVars: true}
	why := ""
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "include":
			why = p.triggerIncludes(e.Value, t)
		case "project":
			s, _ := p.str("trigger: project", e.Value)
			why = fmt.Sprintf("it triggers project %s, another repository's pipeline, which a local run does not have", s)
		case "strategy":
			s, _ := p.str("trigger: strategy", e.Value)
			t.depend = s == "depend"
		case "forward":
			for _, f := range p.pairs(p.value(e.Value)) {
				if f.Key.Value == "yaml_variables" {
					t.yamlVars, _ = p.boolean("trigger: forward: yaml_variables", f.Value)
				}
			}
		case "branch", "inputs":
			// branch: only with project:; inputs: spec: headers are not read.
		default:
			p.warnf(e.Key, "unknown key %s in trigger:", k)
		}
		if why != "" {
			return nil, why
		}
	}
	if len(t.files) == 0 {
		return nil, "its trigger: names no child pipeline file (include: local)"
	}
	return t, ""
}

// triggerIncludes reads trigger: include: a path or a list of {local:}
// entries; any other kind makes the trigger one slipway skips.
func (p *parser) triggerIncludes(n *yaml.Node, t *triggerSpec) string {
	v := p.value(n)
	if s, ok := p.plainString(v); ok {
		t.files = append(t.files, s)
		return ""
	}
	list := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		list = v.Content
	}
	for _, it := range list {
		it = p.value(it)
		if s, ok := p.plainString(it); ok {
			t.files = append(t.files, s)
			continue
		}
		for _, e := range p.pairs(it) {
			switch k := e.Key.Value; k {
			case "local":
				names, _ := p.stringOrList("trigger: include: local", e.Value)
				t.files = append(t.files, names...)
			case "project", "artifact", "template", "remote", "component":
				return fmt.Sprintf("its child pipeline comes from include: %s, which a local run cannot fetch (only include: local is run)", k)
			}
		}
	}
	return ""
}

// triggerJob decides whether a trigger job runs and, when it does, parses
// its child pipeline with the same options, CI_PIPELINE_SOURCE
// parent_pipeline and the trigger's variables forwarded.
func (p *parser) triggerJob(name string, key *yaml.Node, s *jobSpec, g *globals, stage string) {
	p.jobs++
	v, vars := p.jobScope(name, key, s, g, stage, pipeline.Image{}, nil)
	if !v.run {
		return
	}
	if p.depth >= maxChildDepth {
		p.errorf(s.trigger.at, "job %s: child pipelines nest at most %d levels deep", name, maxChildDepth)
		return
	}
	var fwd []variable
	if s.trigger.yamlVars {
		yaml := map[string]bool{}
		for _, x := range jobVariables(g.vars, s.vars, s.inherit.variables) {
			yaml[x.name] = true
		}
		for _, x := range vars {
			if yaml[x.name] {
				x.raw = true // already expanded in the parent
				fwd = append(fwd, x)
			}
		}
	}
	stages := p.childPipeline(s.trigger, fwd)
	if len(stages) == 0 {
		return
	}
	p.claimChild(name, s.trigger.depend, stages)
	if when := p.ruleWhen(v.when, s.when); when == pipeline.Manual {
		// A manual trigger job starts its child only when started: so do
		// the child's jobs here, each when named.
		for _, st := range stages {
			for _, j := range st.Jobs {
				j.When, j.AllowFailure = pipeline.Manual, true
			}
		}
	}
	p.children = append(p.children, child{trigger: name, stage: stage, stages: stages})
	if !s.trigger.depend {
		p.warnf(key, "job %s triggers a child pipeline without strategy: depend: its jobs (%s/...) run after stage %s and before the stages after it, and their failures do not fail the pipeline",
			name, name, stage)
	}
}

// childPipeline parses the files of a child pipeline as one
// configuration, as GitLab does: an include: of each.
func (p *parser) childPipeline(t *triggerSpec, fwd []variable) []pipeline.Stage {
	var incl []*yaml.Node
	for _, f := range t.files {
		incl = append(incl, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: t.at.Line, Column: t.at.Column, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "local"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: f, Line: t.at.Line, Column: t.at.Column}}})
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: t.at.Line, Column: t.at.Column, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "include"}, {Kind: yaml.SequenceNode, Tag: "!!seq", Content: incl}}}
	opts := p.opts
	opts.PipelineSource = "parent_pipeline"
	opts.Git.Warning = "" // said once, for the parent
	opts.Workspace = p.workspaceDir()
	c := &parser{file: p.file, opts: opts, depth: p.depth + 1, forwarded: fwd, work: p.work, tooComplex: p.tooComplex}
	c.start()
	c.nodeFile = p.nodeFile // the trigger's own position stays the parent's file
	merged := c.withIncludes(root, 0)
	// Messages about the child as a whole name its first file.
	c.file = filepath.Join(p.workspaceDir(), filepath.FromSlash(strings.TrimPrefix(t.files[0], "/")))
	var pl *pipeline.Pipeline
	if len(c.errs) == 0 {
		pl = c.pipeline(merged)
	}
	p.errs, p.warns = append(p.errs, c.errs...), append(p.warns, c.warns...)
	p.work, p.tooComplex = c.work, c.tooComplex
	if pl == nil {
		return nil
	}
	return pl.Stages
}

// claimChild names the child's jobs (and stages) after the trigger job,
// so the plan shows where they come from. Without strategy: depend the
// trigger job succeeds once the child is created: the child's failures
// do not fail the pipeline. A child job that needs nothing (needs: [])
// still waits for the trigger's stage, as a child pipeline starts only
// when it is triggered.
func (p *parser) claimChild(trigger string, depend bool, stages []pipeline.Stage) {
	prefix := func(s string) string { return trigger + "/" + s }
	for i := range stages {
		stages[i].Name = prefix(stages[i].Name)
		for _, j := range stages[i].Jobs {
			j.Name = prefix(j.Name)
			for k := range j.Needs {
				j.Needs[k] = prefix(j.Needs[k])
			}
			for k := range j.ArtifactsFrom {
				j.ArtifactsFrom[k] = prefix(j.ArtifactsFrom[k])
			}
			if j.DAG && len(j.Needs) == 0 {
				j.DAG = false
			}
			if !depend {
				j.AllowFailure = true
			}
		}
	}
}

// withChildren puts each child pipeline's stages right after the stage of
// its trigger job (or, when that stage has no other job, where it would
// be), after any child an earlier trigger of that stage put there.
func (p *parser) withChildren(grouped []pipeline.Stage, order []string) []pipeline.Stage {
	rank := map[string]int{}
	for i, s := range order {
		rank[s] = i
	}
	for _, c := range p.children {
		at := rank[c.stage]
		i := 0
		for i < len(grouped) && rank[grouped[i].Name] <= at {
			i++
		}
		grouped = slices.Insert(grouped, i, c.stages...)
		for _, s := range c.stages {
			rank[s.Name] = at
		}
	}
	return grouped
}

// needsOnTriggers handles needs: naming a trigger job, which is no job
// of the plan: the job then waits, as a job without needs:, for every
// stage before it, the child pipeline's included.
func (p *parser) needsOnTriggers(all []planned) {
	triggers := map[string]bool{}
	for _, c := range p.children {
		triggers[c.trigger] = true
	}
	for i := range all {
		if slices.ContainsFunc(all[i].needs, func(nd need) bool { return triggers[nd.job] }) {
			all[i].needs, all[i].has = nil, false
		}
	}
}
