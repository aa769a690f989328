// Package gitlab turns a .gitlab-ci.yml into a pipeline.Pipeline.
//
// It reads the file as a yaml.Node tree so that every error and warning
// carries file:line:column. The order of work follows GitLab's: !reference
// tags and YAML merge keys are resolved as values are read, then extends:
// is applied, then default: fills what a job leaves unset.
package gitlab

import (
	"path"
	"path/filepath"
	"slices"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/vcs"
	"go.yaml.in/yaml/v3"
)

// Options are what the file alone does not say.
type Options struct {
	// ProjectPath is "group/project"; the workspace becomes
	// /builds/<ProjectPath>, where GitLab Runner checks out.
	ProjectPath string
	// Git is what the workspace's git says (vcs.Read); its Warning, if
	// any, is passed on. The zero value stands for a workspace without
	// git, silently (tests, benchmarks).
	Git vcs.Info
	// Branch and Tag override the ref git gives (--branch, --tag); a tag
	// makes a tag pipeline. PipelineSource is CI_PIPELINE_SOURCE
	// (--pipeline-source), push when empty.
	Branch, Tag, PipelineSource string
	// Workspace is the checkout on this machine, where rules: exists
	// and include: local look; the pipeline file's directory when empty.
	Workspace string
	// Registry is CI_REGISTRY, from the runner configuration; empty
	// leaves CI_REGISTRY and CI_REGISTRY_IMAGE unset.
	Registry string
	// Runner is what CI_RUNNER_* say of the runner.
	Runner RunnerInfo
	// IncludeDir (--include-dir) is where include: project, remote and
	// template files are read from: DIR/<project>/<file>,
	// DIR/<host>/<path>, DIR/templates/<name>. Empty: they are left out.
	IncludeDir string
	// Env (--env) and BaseEnv (the configuration's environment) are
	// NAME=VALUE lines the run adds above and below the file's variables.
	// They are only used to expand references to them; the plan, not the
	// dialect, puts them in the containers, so they stay out of the
	// pipeline (and of what it is sent as).
	Env, BaseEnv []string
}

// maxWork bounds the nodes visited while interpreting a file. Load
// already bounds alias expansion; this also bounds what extends: and
// !reference can multiply (a big template extended by many jobs).
const maxWork = 2 * yamlutil.MaxNodes

// Parse reads a .gitlab-ci.yml. Warnings (ignored keys) are returned even
// when parsing fails; the error, if any, joins one *pipeline.Error per
// problem, each printed as file:line:column: message.
func Parse(file string, data []byte, opts Options) (*pipeline.Pipeline, []*pipeline.Warning, error) {
	p := &parser{file: file, opts: opts}
	pl := p.parse(data)
	warns := yamlutil.Tidy(p.warns, yamlutil.MaxWarnings, "warnings")
	if len(p.errs) > 0 {
		return nil, warns, yamlutil.Join(yamlutil.Tidy(p.errs, yamlutil.MaxErrors, "errors"))
	}
	return pl, warns, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file  string
	opts  Options
	errs  []*pipeline.Error
	warns []*pipeline.Warning
	work  int
	// tooComplex is set once maxWork is exceeded; everything after is
	// skipped so a hostile file costs bounded time.
	tooComplex bool

	top      map[string]yamlutil.Pair // every top-level entry, by name
	expanded map[string]*yaml.Node    // jobs and templates after extends:
	busy     []string                 // extends: chain being expanded
	refDepth int                      // !reference lookups in progress
	refs     map[string]parsedRef     // image.Parse results by name

	above, below map[string]string // Options.Env, Options.BaseEnv

	ref  ref        // what the pipeline runs for
	pre  []variable // the pipeline's predefined variables
	jobs int        // jobs built so far, for CI_JOB_ID
	// ruledOut counts jobs that rules:, only: or except: leave out.
	ruledOut int

	included        map[string]bool       // include: local files read
	nodeFile        map[*yaml.Node]string // nodes of included files
	skippedIncludes []int                 // lines of includes left out
	docBase         map[*yaml.Node]string // included documents of other projects: where their local: files are

	// ruleNeeds are the needs: of the rule that let a job run, when it
	// has some: they replace the job's own.
	ruleNeeds map[*pipeline.Job][]need

	// depth is 0 for the pipeline, 1 for a child pipeline, 2 for a
	// grandchild; forwarded are the variables a trigger job passes its
	// child; children are the child pipelines that run.
	depth     int
	forwarded []variable
	children  []child
}

// parsedRef memoises image.Parse: a big file names the same few images
// in every job.
type parsedRef struct {
	ref image.Reference
	err error
}

func (p *parser) parseImage(name string) (image.Reference, error) {
	if r, ok := p.refs[name]; ok {
		return r.ref, r.err
	}
	if p.refs == nil {
		p.refs = map[string]parsedRef{}
	}
	ref, err := image.Parse(name)
	p.refs[name] = parsedRef{ref, err}
	return ref, err
}

func (p *parser) parse(data []byte) *pipeline.Pipeline {
	if src := p.opts.PipelineSource; src != "" && !pipelineSources[src] {
		p.errs = append(p.errs, pipeline.Errorf(pipeline.Pos{File: p.file}, "pipeline source %q is not one GitLab knows (push, merge_request_event, schedule, web, api, trigger, ...)", src))
		return nil
	}
	docs, err := yamlutil.Load(p.file, data)
	if err != nil {
		p.addErr(err)
		return nil
	}
	if len(docs) == 0 {
		p.errs = append(p.errs, pipeline.Errorf(p.pos(nil), "the file is empty: expected a map of jobs"))
		return nil
	}
	if len(docs) > 1 {
		p.errorf(docs[1], "expected one YAML document, found a second one (--- starts a new document)")
		return nil
	}
	root := docs[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "expected a map of jobs and keywords, got %s", yamlutil.Describe(root))
		return nil
	}
	p.start()
	return p.pipeline(p.withIncludes(root, 0))
}

// start sets up what interpreting a file needs.
func (p *parser) start() {
	p.above, p.below = envMap(p.opts.Env), envMap(p.opts.BaseEnv)
	p.ref = p.pipelineRef()
	p.pre = p.predefined(p.ref)
	p.included, p.nodeFile, p.docBase = map[string]bool{}, map[*yaml.Node]string{}, map[*yaml.Node]string{}
	p.ruleNeeds = map[*pipeline.Job][]need{}
}

// pipeline interprets the top-level map.
func (p *parser) pipeline(root *yaml.Node) *pipeline.Pipeline {
	entries := p.pairs(root)
	p.top = make(map[string]yamlutil.Pair, len(entries))
	for _, e := range entries {
		p.top[e.Key.Value] = e
	}
	p.expanded = map[string]*yaml.Node{}
	if w := p.opts.Git.Warning; w != "" {
		p.warnf2(pipeline.Pos{File: p.file}, "%s", w)
	}
	g := p.globals(entries)
	if why := p.workflow(g); why != "" {
		p.warnf(p.top["workflow"].Key, "GitLab creates no pipeline for %s: %s", describeRef(p.ref), why)
		return &pipeline.Pipeline{File: p.file, Dialect: pipeline.GitLab}
	}
	jobs, stages, visible := p.planJobs(entries, g)
	if p.tooComplex {
		return nil
	}
	switch {
	case !visible && len(p.errs) > 0:
		return nil // the jobs were to come from what failed (an include:)
	case !visible:
		p.errorf(root, "no jobs: a pipeline needs at least one job (keys starting with . are hidden templates)")
		return nil
	case len(jobs) == 0 && len(p.children) > 0:
	case len(jobs) == 0 && len(p.errs) == 0 && p.ruledOut > 0:
		p.warnf(root, "no job runs for %s (the warnings above say why); GitLab creates no pipeline", describeRef(p.ref))
	case len(jobs) == 0 && len(p.errs) == 0:
		p.errorf(root, "no jobs slipway can run: trigger: and run: jobs are skipped")
		return nil
	}
	grouped := group(g.stages, jobs, stages)
	for _, st := range grouped {
		if !p.needsFirst(st.Jobs) {
			return nil
		}
	}
	return &pipeline.Pipeline{File: p.file, Dialect: pipeline.GitLab, Stages: p.withChildren(grouped, g.stages)}
}

// planJobs builds every job the file defines, in file order with the
// stage of each, and resolves their needs:. visible is false when the
// file defines no job at all.
func (p *parser) planJobs(entries []yamlutil.Pair, g *globals) (jobs []*pipeline.Job, stageOf []string, visible bool) {
	var all []planned
	file := map[string]bool{}
	for _, e := range entries {
		if isReserved(e.Key.Value) || isHidden(e.Key.Value) {
			continue
		}
		visible = true
		file[e.Key.Value] = true
		grp := p.job(e, g)
		for _, j := range grp.jobs {
			needs := grp.needs
			if rn, ok := p.ruleNeeds[j]; ok {
				needs = rn // the matching rule's needs: replace the job's
			}
			all = append(all, planned{job: j, base: e.Key.Value, stage: slices.Index(g.stages, grp.stage), needs: needs, has: needs != nil, deps: grp.deps, depsAt: grp.depsAt})
			jobs = append(jobs, j)
			stageOf = append(stageOf, grp.stage)
		}
		if p.tooComplex {
			return nil, nil, visible
		}
	}
	p.needsOnTriggers(all)
	p.resolveNeeds(all, file)
	return jobs, stageOf, visible
}

// group puts jobs into their stages, in stages order, dropping stages
// without jobs. Within a stage jobs keep file order.
func group(order []string, jobs []*pipeline.Job, stageOf []string) []pipeline.Stage {
	in := map[string][]*pipeline.Job{}
	for i, j := range jobs {
		in[stageOf[i]] = append(in[stageOf[i]], j)
	}
	var out []pipeline.Stage
	for _, s := range order {
		if len(in[s]) > 0 {
			out = append(out, pipeline.Stage{Name: s, Jobs: in[s]})
		}
	}
	return out
}

// workspace is where the checkout lives in every container. Cleaning
// "/"+ProjectPath keeps a hostile path from escaping /builds.
func (p *parser) workspace() string {
	return path.Join("/builds", path.Clean("/"+p.opts.ProjectPath))
}

// workspaceDir is the checkout on this machine.
func (p *parser) workspaceDir() string {
	if p.opts.Workspace != "" {
		return p.opts.Workspace
	}
	return filepath.Dir(p.file)
}

func (p *parser) pos(n *yaml.Node) pipeline.Pos {
	if f, ok := p.nodeFile[n]; ok {
		return yamlutil.Pos(f, n)
	}
	return yamlutil.Pos(p.file, n)
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, pipeline.Errorf(p.pos(n), format, args...))
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	p.warns = append(p.warns, pipeline.Errorf(p.pos(n), format, args...))
}

// warnf2 is warnf for a position already computed.
func (p *parser) warnf2(pos pipeline.Pos, format string, args ...any) {
	p.warns = append(p.warns, pipeline.Errorf(pos, format, args...))
}

// addErr records the leaves of a (joined) error from yamlutil.
func (p *parser) addErr(err error) {
	p.errs = append(p.errs, yamlutil.Problems(p.file, err)...)
}

// charge counts work; false once the budget is spent.
func (p *parser) charge(n int, at *yaml.Node) bool {
	if p.tooComplex {
		return false
	}
	p.work += n
	if p.work > maxWork {
		p.tooComplex = true
		p.errorf(at, "document too complex: more than %d nodes to interpret once extends: and !reference are applied", maxWork)
		return false
	}
	return true
}
