package gitlab

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// jobSpec is a job's own keywords after extends:, before default: fills
// the gaps.
type jobSpec struct {
	common
	script       []string
	scriptKey    *yaml.Node
	stage        string
	stageNode    *yaml.Node
	vars         []variable
	allowFailure *bool
	when         pipeline.When
	never        *yaml.Node // when: never
	inherit      inheritance
	secrets      []pipeline.EnvVar
	skip         *yaml.Node // trigger: or run:, which slipway cannot run
	skipWhy      string     // why, when it says more than "not supported"
	trigger      *triggerSpec
	rules        []rule
	rulesKey     *yaml.Node
	only, except *policy
	instances    []instance // parallel:; nil when the job has none
	needs        []need     // needs:; nil when not written
	artifacts    *pipeline.Artifacts
	deps         []string // dependencies:; nil when not written
	depsAt       *yaml.Node
}

// inheritance is inherit:, which says what a job takes from default:
// and from the global variables.
type inheritance struct {
	defaults, variables filter
}

// filter is true/false or a list of names.
type filter struct {
	none  bool
	names map[string]bool // when set, only these
}

func (f filter) allows(name string) bool {
	return !f.none && (f.names == nil || f.names[name])
}

// job turns one top-level job entry into a model job and its stage.
// It returns nil when the job has errors or is skipped.
// A job with parallel: becomes several.
func (p *parser) job(e yamlutil.Pair, g *globals) jobGroup {
	name := e.Key.Value
	before := len(p.errs)
	if strings.TrimSpace(name) == "" {
		p.errorf(e.Key, "a job name must not be empty")
		return jobGroup{}
	}
	n := p.expand(name, e.Key)
	if n == nil {
		return jobGroup{}
	}
	s := p.jobSpec(name, n)
	if s.skip != nil && s.skipWhy != "" {
		p.warnf(s.skip, "job %s is skipped: %s", name, s.skipWhy)
		return jobGroup{}
	}
	if s.skip != nil {
		p.warnf(s.skip, "job %s uses %s:, which slipway does not support; the job is skipped", name, s.skip.Value)
		return jobGroup{}
	}
	if s.never != nil {
		p.warnf(s.never, "job %s has when: never; the job is skipped", name)
		return jobGroup{}
	}
	stage := p.jobStage(name, e.Key, s, g)
	if s.trigger != nil {
		if len(p.errs) == before {
			p.triggerJob(name, e.Key, s, g, stage)
		}
		return jobGroup{}
	}
	if s.scriptKey == nil {
		p.errorf(e.Key, "job %s: script is required", name)
	}
	p.checkRulesMix(name, s)
	if len(p.errs) > before {
		return jobGroup{}
	}
	instances := s.instances
	if instances == nil {
		instances = single
	}
	var out []*pipeline.Job
	for _, in := range instances {
		p.jobs++
		if j := p.build(name+in.suffix, e.Key, s, g, stage, in.vars); j != nil {
			out = append(out, j)
		}
	}
	return jobGroup{jobs: out, stage: stage, needs: s.needs, deps: s.deps, depsAt: s.depsAt}
}

// jobGroup is what one job entry of the file becomes: its jobs (several
// with parallel:), their stage and their needs:.
type jobGroup struct {
	jobs   []*pipeline.Job
	stage  string
	needs  []need
	deps   []string
	depsAt *yaml.Node
}

func (p *parser) onlyExcept(e yamlutil.Pair, s *jobSpec) {
	pol, ok := p.policy(e.Key.Value, e.Value)
	if !ok {
		return
	}
	pol.at = e.Key
	if e.Key.Value == "only" {
		s.only = &pol
	} else {
		s.except = &pol
	}
}

// checkRulesMix: GitLab refuses rules: beside only: or except:.
func (p *parser) checkRulesMix(name string, s *jobSpec) {
	if s.rulesKey == nil {
		return
	}
	for _, pol := range []*policy{s.only, s.except} {
		if pol != nil {
			p.errorf(pol.at, "job %s: %s: cannot be used with rules: (line %d)", name, pol.at.Value, s.rulesKey.Line)
		}
	}
}

// decide applies the job's rules:, or else its only:/except: (only:
// branches and tags when neither is given), to the pipeline's ref.
func (p *parser) decide(s *jobSpec, c *evalContext) verdict {
	if s.rulesKey != nil {
		return p.evalRules(s.rules, c)
	}
	only := defaultOnly
	if s.only != nil {
		only = *s.only
	}
	if !only.holds(c) {
		return verdict{why: whereOnly(only.at) + " leaves it out"}
	}
	if s.except != nil && s.except.holdsAny(c) {
		return verdict{why: fmt.Sprintf("except: at line %d leaves it out", s.except.at.Line)}
	}
	return verdict{run: true}
}

// whereOnly names the only: that decided, for messages.
func whereOnly(n *yaml.Node) string {
	if n == nil {
		return "only: (by default, branches and tags)"
	}
	return fmt.Sprintf("only: at line %d", n.Line)
}

// jobSpec decodes the keywords of an expanded job.
func (p *parser) jobSpec(name string, n *yaml.Node) *jobSpec {
	s := &jobSpec{}
	for _, e := range p.pairs(n) {
		switch k := e.Key.Value; {
		case slices.Contains(commonKeys, k):
			p.setCommon(e, &s.common)
		case k == "script":
			p.script(name, e, s)
		case k == "stage":
			if st, ok := p.str(k, e.Value); ok {
				s.stage, s.stageNode = st, p.value(e.Value)
			}
		case k == "type":
			// The deprecated spelling of stage:, which wins when both are set.
			p.warnf(e.Key, "type is deprecated: use stage")
			if st, ok := p.str(k, e.Value); ok && p.lookup(n, "stage") == nil {
				s.stage, s.stageNode = st, p.value(e.Value)
			}
		case k == "variables":
			s.vars = p.variables(k, e.Value)
		case k == "extends":
			// already applied by expand
		case k == "allow_failure":
			b := p.allowFailure(e.Value)
			s.allowFailure = &b
		case k == "when":
			p.when(e, s)
		case k == "secrets":
			s.secrets = p.secrets(e.Value)
		case k == "inherit":
			s.inherit = p.inherit(e.Value)
		case k == "rules":
			s.rules, s.rulesKey = p.rules(k, e.Value), e.Key
		case k == "only" || k == "except":
			p.onlyExcept(e, s)
		case k == "parallel":
			s.instances = p.parallel(e.Value)
		case k == "needs":
			s.needs = p.needs(e.Value)
		case k == "artifacts":
			s.artifacts = p.artifacts(e.Value)
		case k == "dependencies":
			s.deps, s.depsAt = p.dependencies(e)
		case k == "trigger":
			if s.trigger, s.skipWhy = p.trigger(e.Value); s.trigger == nil {
				s.skip = e.Key
			}
		case skipJobKeys[k]:
			s.skip = e.Key
		case ignoredJobKeys[k]:
			p.warnf(e.Key, "key %s is not supported by slipway and is ignored", k)
		default:
			p.warnf(e.Key, "unknown key %s", k)
		}
	}
	return s
}

func (p *parser) script(name string, e yamlutil.Pair, s *jobSpec) {
	cmds, ok := p.commands("script", e.Value)
	if !ok {
		s.scriptKey = e.Key // reported already; do not also say "required"
		return
	}
	if len(cmds) == 0 {
		p.errorf(e.Key, "job %s: script is required and must not be empty", name)
	}
	s.script, s.scriptKey = cmds, e.Key
}

// jobStage checks the job's stage (default "test") against stages:.
func (p *parser) jobStage(name string, key *yaml.Node, s *jobSpec, g *globals) string {
	stage, at := s.stage, s.stageNode
	if s.stageNode == nil {
		stage, at = "test", key
	}
	if g.stages != nil && !g.stageSet[stage] {
		p.errorf(at, "job %s: stage %q is not defined in stages (%s)", name, stage, strings.Join(g.stages, ", "))
	}
	return stage
}

// when reads the job's when: on_success (the default), on_failure,
// always, manual (run only when named), never, or delayed (start_in is
// not honoured: it runs as on_success).
func (p *parser) when(e yamlutil.Pair, s *jobSpec) {
	w, ok := p.str("when", e.Value)
	if !ok {
		return
	}
	switch w {
	case "on_success":
		s.when = pipeline.OnSuccess
	case "on_failure":
		s.when = pipeline.OnFailure
	case "always":
		s.when = pipeline.Always
	case "manual":
		s.when = pipeline.Manual
	case "never":
		s.never = e.Key
	case "delayed":
		p.warnf(e.Value, "when: delayed: start_in is not supported by slipway; the job runs as on_success")
	default:
		p.errorf(p.value(e.Value), "when: expected on_success, on_failure, always, manual, delayed or never, got %q", w)
	}
}

// allowFailure reads true/false; the {exit_codes: ...} form cannot be
// honoured, so it counts as false (the safe reading) with a warning.
func (p *parser) allowFailure(n *yaml.Node) bool {
	if v := p.value(n); v != nil && v.Kind == yaml.MappingNode {
		p.warnf(v, "allow_failure: exit_codes is not supported by slipway; a failure of this job fails the pipeline")
		return false
	}
	b, _ := p.boolean("allow_failure", n)
	return b
}

// inherit reads inherit: {default: bool|list, variables: bool|list}.
func (p *parser) inherit(n *yaml.Node) inheritance {
	var in inheritance
	entries, ok := p.mapping("inherit", n)
	if !ok {
		return in
	}
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "default":
			in.defaults = p.filter("inherit: default", e.Value)
		case "variables":
			in.variables = p.filter("inherit: variables", e.Value)
		default:
			p.warnf(e.Key, "unknown key %s", k)
		}
	}
	return in
}

func (p *parser) filter(key string, n *yaml.Node) filter {
	v := p.value(n)
	if v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		b, _ := p.boolean(key, v)
		return filter{none: !b}
	}
	if v != nil && v.Kind != yaml.SequenceNode {
		p.errorf(v, "%s: expected true, false or a list of names, got %s", key, yamlutil.Describe(v))
		return filter{}
	}
	names, _ := p.stringList(key, n)
	f := filter{names: make(map[string]bool, len(names))}
	for _, name := range names {
		f.names[name] = true
	}
	return f
}

// build makes the model job: default: fills what the job leaves unset.
// It returns nil when the work budget is spent.
func (p *parser) build(name string, key *yaml.Node, s *jobSpec, g *globals, stage string, extra []variable) *pipeline.Job {
	c := effective(&s.common, &g.def, s.inherit.defaults)
	// Each job gets its own copy of everything it inherits: charge for
	// it first, or a big default: or template times many jobs would be
	// an unbounded allocation.
	if !p.charge(jobCost(&c, s, len(g.vars)+len(p.pre)+8), key) {
		return nil
	}
	var img pipeline.Image
	if c.image != nil {
		img = c.image.img
	}
	v, vars := p.jobScope(name, key, s, g, stage, img, extra)
	if !v.run {
		return nil
	}
	when := s.when
	if v.when != "" {
		when = p.ruleWhen(v.when, s.when)
	}
	allowFailure := s.allowFailure
	if v.allowFail != nil {
		allowFailure = v.allowFail
	}
	j := &pipeline.Job{
		Name:         name,
		Pos:          p.pos(key),
		Network:      pipeline.NetworkPerJob,
		Workspace:    p.workspace(),
		Steps:        p.steps(&c, s.script, s.scriptKey, vars, s.secrets),
		Services:     p.jobServices(c.services, vars),
		Variables:    env(vars),
		Timeout:      c.timeout,
		Target:       pipeline.TargetDocker,
		AllowFailure: allowFailure != nil && *allowFailure || allowFailure == nil && when == pipeline.Manual && s.rulesKey == nil,
		When:         when,
		Tags:         expandAll(c.tags, p.scope(vars).lookup),
		Artifacts:    s.artifacts,
		Caches:       jobCaches(c.cache, p.scope(vars).lookup, p.workspace()),
	}
	if v.needs != nil {
		p.ruleNeeds[j] = v.needs
	}
	return j
}

// expandAll expands the variables in each of list (tags: may use them).
func expandAll(list []string, lookup lookupFunc) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expandString(s, lookup)
	}
	return out
}

// jobScope decides whether the job runs and returns its variables,
// values expanded: predefined, then global, then the job's, then those
// of a parallel: instance (extra), then those of the rule that matched,
// each overriding the one before. A job its rules leave out draws a
// warning saying why.
func (p *parser) jobScope(name string, key *yaml.Node, s *jobSpec, g *globals, stage string, img pipeline.Image, extra []variable) (verdict, []variable) {
	yamlVars := jobVariables(g.vars, s.vars, s.inherit.variables)
	// A child pipeline's forwarded variables are pipeline variables: above
	// the file's own.
	all := slices.Concat(p.pre, jobPredefined(name, stage, p.jobs, img), yamlVars, p.forwarded, extra)
	v := p.decide(s, p.newEvalContext(p.ref, p.scope(all).lookup))
	if !v.run {
		p.warnf(key, "job %s does not run for %s: %s", name, describeRef(p.ref), v.why)
		p.ruledOut++
		return v, nil
	}
	byName := map[string]variable{}
	for _, x := range slices.Concat(all, p.runnerVars(), v.vars) {
		byName[x.name] = x
	}
	final := sortedVars(byName)
	final = p.scope(final).resolved(final)
	for i := range final {
		if final[i].name == "CI_JOB_IMAGE" && final[i].raw {
			final[i].value = p.expandImage(img, final).Name
		}
	}
	return v, final
}

// jobCost is about how many values build copies for one job.
func jobCost(c *common, s *jobSpec, globalVars int) int {
	vars := globalVars + len(s.vars) + 1
	n := 2*vars + len(c.before) + len(s.script) + len(c.after)
	if c.image != nil {
		n += 2 * len(c.image.entrypoint)
	}
	for _, svc := range c.services {
		n += vars + len(svc.env) + len(svc.aliases) + len(svc.entrypoint) + len(svc.command) + 1
	}
	return n
}

// steps are the job's containers: before_script + script in one shell,
// then after_script, if any, in a new shell that runs whatever happened.
func (p *parser) steps(c *common, script []string, scriptKey *yaml.Node, vars []variable, secrets []pipeline.EnvVar) []*pipeline.Step {
	var img pipeline.Image
	var ep []string
	if c.image != nil {
		img, ep = c.image.img, c.image.entrypoint
	}
	img = p.expandImage(img, vars)
	step := func(name string, cmds []string, at *yaml.Node) *pipeline.Step {
		return &pipeline.Step{
			Container: pipeline.Container{
				Name:       name,
				Pos:        p.pos(at),
				Image:      cloneImage(img),
				Entrypoint: slices.Clone(ep),
				// The job's secrets go to its own steps, never to services.
				Env: append(env(vars), secrets...),
			},
			Commands: cmds,
			Shell:    pipeline.ShellGitLab,
		}
	}
	out := []*pipeline.Step{step("script", append(slices.Clone(c.before), script...), scriptKey)}
	if len(c.after) > 0 {
		after := step("after_script", slices.Clone(c.after), c.keys["after_script"])
		after.Always = true
		out = append(out, after)
	}
	return out
}

// expandImage expands the variables in an image name with the job's, as
// GitLab does. A name that refers to a variable the file does not define
// is left for the runner, which also knows --env and its configuration.
func (p *parser) expandImage(img pipeline.Image, vars []variable) pipeline.Image {
	if img.Ref != "" || !strings.Contains(img.Name, "$") {
		return img
	}
	lookup := p.scope(vars).lookup
	if unknownReference(img.Name, lookup) {
		return img
	}
	name := expandString(img.Name, lookup)
	ref, err := p.parseImage(name)
	if err != nil {
		return img // the plan says why, with the run's variables added
	}
	img.Name, img.Ref = name, ref.String()
	return img
}

// effective is the job's common keywords, each taken from the job if it
// sets it, else from default: when inherit: allows.
func effective(job, def *common, allow filter) common {
	out := common{keys: map[string]*yaml.Node{}}
	for _, k := range commonKeys {
		src := job
		if job.keys[k] == nil {
			if def.keys[k] == nil || !allow.allows(k) {
				continue
			}
			src = def
		}
		out.keys[k] = src.keys[k]
		out.take(k, src)
	}
	return out
}

// jobVariables overlays the job's variables on the global ones it
// inherits, sorted by name. Sorting (rather than file order) keeps the
// result independent of how anchors, extends: and overrides interleave,
// so plans and golden files are stable; a container's environment has no
// order anyway.
func jobVariables(global, job []variable, allow filter) []variable {
	byName := map[string]variable{}
	for _, v := range global {
		if allow.allows(v.name) {
			byName[v.name] = v
		}
	}
	for _, v := range job {
		byName[v.name] = v
	}
	return sortedVars(byName)
}

func sortedVars(m map[string]variable) []variable {
	out := make([]variable, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b variable) int { return cmp.Compare(a.name, b.name) })
	return out
}

func env(vars []variable) []pipeline.EnvVar {
	if len(vars) == 0 {
		return nil
	}
	out := make([]pipeline.EnvVar, len(vars))
	for i, v := range vars {
		out[i] = pipeline.EnvVar{Name: v.name, Value: v.value}
	}
	return out
}

// serviceEnv is every YAML variable (spec: "All variables are passed to
// all services containers"), sorted, then the service's own variables,
// sorted; a service variable replaces a YAML one of the same name.
func serviceEnv(vars, own []variable) []pipeline.EnvVar {
	mine := map[string]variable{}
	for _, v := range own {
		mine[v.name] = v
	}
	var out []variable
	for _, v := range vars {
		if _, ok := mine[v.name]; !ok {
			out = append(out, v)
		}
	}
	return env(append(out, sortedVars(mine)...))
}

func cloneImage(img pipeline.Image) pipeline.Image {
	img.Pull = slices.Clone(img.Pull)
	return img
}
