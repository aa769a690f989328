package gitlab

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// rule is one entry of rules: (a job's or workflow:'s). A rule matches
// when every clause it has is true; one with no clause always matches.
type rule struct {
	at        *yaml.Node
	ifText    string
	ifExpr    expr
	changes   []string
	exists    []string
	hasChg    bool
	hasExist  bool
	when      string // "" when the rule does not say
	allowFail *bool
	vars      []variable
	needs     []need // needs: of the rule; nil when not written
}

// ruleKeys are what a job's rule may hold; interruptible steers GitLab's
// scheduler and is read past.
var ruleKeys = keySet(`if changes exists when allow_failure variables start_in needs interruptible`)

// rules reads a rules: list. Nested lists (from !reference) are
// flattened, as GitLab does.
func (p *parser) rules(key string, n *yaml.Node) []rule {
	var out []rule
	p.eachRule(key, n, 0, func(m *yaml.Node) {
		if r, ok := p.rule(key, m); ok {
			out = append(out, r)
		}
	})
	return out
}

func (p *parser) eachRule(key string, n *yaml.Node, depth int, f func(*yaml.Node)) {
	if n = p.value(n); n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode || depth >= maxListDepth {
		p.errorf(n, "%s: expected a list of rules, got %s", key, yamlutil.Describe(n))
		return
	}
	if !p.charge(len(n.Content)+1, n) {
		return
	}
	for _, c := range n.Content {
		c = p.value(c)
		switch {
		case c == nil:
		case c.Kind == yaml.SequenceNode:
			p.eachRule(key, c, depth+1, f)
		case c.Kind == yaml.MappingNode:
			f(c)
		default:
			p.errorf(c, "%s: expected a rule (a map with if, changes, exists, when), got %s", key, yamlutil.Describe(c))
		}
	}
}

func (p *parser) rule(key string, m *yaml.Node) (rule, bool) {
	r := rule{at: m}
	ok := true
	for _, e := range p.pairs(m) {
		switch k := e.Key.Value; k {
		case "if":
			ok = p.ruleIf(e.Value, &r) && ok
		case "changes":
			r.changes, r.hasChg = p.paths(key+": changes", e.Value), true
		case "exists":
			r.exists, r.hasExist = p.paths(key+": exists", e.Value), true
		case "when":
			r.when, _ = p.str("when", e.Value)
			if !ruleWhens[r.when] {
				p.errorf(p.value(e.Value), "%s: when: expected on_success, on_failure, always, manual, delayed or never, got %q", key, r.when)
				ok = false
			}
		case "allow_failure":
			b := p.allowFailure(e.Value)
			r.allowFail = &b
		case "variables":
			r.vars = p.variables(key+": variables", e.Value)
		case "needs":
			// GitLab 16: the rule's needs replace the job's when it matches.
			r.needs = p.needs(e.Value)
		default:
			if !ruleKeys[k] {
				p.warnf(e.Key, "unknown key %s in a rule", k)
			}
		}
	}
	return r, ok
}

func (p *parser) ruleIf(n *yaml.Node, r *rule) bool {
	s, ok := p.str("if", n)
	if !ok {
		return false
	}
	e, err := parseExpr(s)
	if err != nil {
		p.errorf(p.value(n), "if: %v", err)
		return false
	}
	r.ifText, r.ifExpr = s, e
	return true
}

// paths reads changes:/exists:: a list of globs, or the map form
// {paths: [...], compare_to: ref} (compare_to is not honoured: the
// commit's own changes are used).
func (p *parser) paths(key string, n *yaml.Node) []string {
	v := p.value(n)
	if v != nil && v.Kind == yaml.MappingNode {
		var out []string
		for _, e := range p.pairs(v) {
			switch e.Key.Value {
			case "paths":
				out, _ = p.stringList(key+": paths", e.Value)
			case "compare_to":
				p.warnf(e.Key, "%s: compare_to is not supported by slipway; the commit's own changes are used", key)
			default:
				p.warnf(e.Key, "unknown key %s", e.Key.Value)
			}
		}
		return out
	}
	out, _ := p.stringOrList(key, n)
	return out
}

// verdict is what rules (or only/except) decide for a job.
type verdict struct {
	run       bool
	why       string // when run is false
	when      string
	allowFail *bool
	vars      []variable
	needs     []need // the matching rule's needs:, nil when it has none
}

// evalRules applies the first rule that matches.
func (p *parser) evalRules(rules []rule, c *evalContext) verdict {
	for _, r := range rules {
		if !p.matches(r, c) {
			continue
		}
		if r.when == "never" {
			return verdict{why: fmt.Sprintf("the rule at line %d says when: never", r.at.Line)}
		}
		return verdict{run: true, when: r.when, allowFail: r.allowFail, vars: r.vars, needs: r.needs}
	}
	return verdict{why: "no rule matches"}
}

func (p *parser) matches(r rule, c *evalContext) bool {
	if r.ifExpr != nil && !truthy(r.ifExpr.eval(c.lookup)) {
		return false
	}
	if r.hasChg && !c.changed(r.changes) {
		return false
	}
	return !r.hasExist || c.exists(r.exists)
}

// evalContext is what conditions are evaluated against.
type evalContext struct {
	ref       ref
	lookup    lookupFunc
	project   string
	changes   []string // nil: unknown, every changes: clause is true
	workspace string
	existsFS  fs.FS
}

// changed is true when a changed file matches one of the globs. When
// the changes cannot be known (no git, a tag, a schedule), GitLab takes
// changes: as true, and so does this.
func (c *evalContext) changed(globs []string) bool {
	if c.changes == nil {
		return true
	}
	for _, g := range globs {
		g = expandString(g, c.lookup)
		for _, f := range c.changes {
			if globMatch(g, f) {
				return true
			}
		}
	}
	return false
}

// exists is true when a file of the workspace matches one of the globs.
func (c *evalContext) exists(globs []string) bool {
	if c.existsFS == nil {
		c.existsFS = os.DirFS(c.workspace)
	}
	for _, g := range globs {
		g = strings.TrimPrefix(expandString(g, c.lookup), "/")
		if !doublestar.ValidatePattern(g) {
			continue
		}
		m, err := doublestar.Glob(c.existsFS, g, doublestar.WithFilesOnly(), doublestar.WithFailOnIOErrors())
		if err == nil && len(m) > 0 {
			return true
		}
	}
	return false
}

// globMatch is GitLab's fnmatch with FNM_PATHNAME, FNM_DOTMATCH and
// FNM_EXTGLOB: ** crosses directories, {a,b} alternates. A glob naming a
// directory ("docs/") matches nothing by itself, as in GitLab.
func globMatch(glob, file string) bool {
	ok, err := doublestar.Match(strings.TrimPrefix(glob, "/"), file)
	return err == nil && ok
}

// newEvalContext is the context of one job: its variables and the ref.
func (p *parser) newEvalContext(r ref, lookup lookupFunc) *evalContext {
	c := &evalContext{ref: r, lookup: lookup, project: strings.Trim(p.opts.ProjectPath, "/"), workspace: p.workspaceDir()}
	g := p.git()
	// GitLab compares a push to a branch with the commit before it; for
	// tags, schedules and other sources changes: is always true.
	if g.ChangedKnown && r.tag == "" && r.source == "push" {
		c.changes = g.Changed
		if c.changes == nil {
			c.changes = []string{}
		}
	}
	return c
}

// ruleWhens are the values a rule's when: may take.
var ruleWhens = keySet(`on_success on_failure always manual delayed never`)

// ruleWhen turns a rule's when: into the model's; delayed runs as
// on_success, as a job's when: delayed does.
func (p *parser) ruleWhen(s string, job pipeline.When) pipeline.When {
	switch s {
	case "on_success":
		return pipeline.OnSuccess
	case "on_failure":
		return pipeline.OnFailure
	case "always":
		return pipeline.Always
	case "manual":
		return pipeline.Manual
	case "delayed":
		return pipeline.OnSuccess
	}
	return job
}

// workflow is the top-level workflow:.
type workflow struct {
	rules    []rule
	hasRules bool
}

func (p *parser) readWorkflow(n *yaml.Node) *workflow {
	entries, ok := p.mapping("workflow", n)
	if !ok {
		return nil
	}
	w := &workflow{}
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "rules":
			w.rules, w.hasRules = p.rules("workflow: rules", e.Value), true
		case "name", "auto_cancel":
			// The pipeline's title and GitLab's cancelling policy: nothing
			// a local run shows or does.
		default:
			p.warnf(e.Key, "unknown key %s", k)
		}
	}
	return w
}

// workflow applies workflow: rules; it returns why no pipeline is made,
// or "" and adds the matching rule's variables to the global ones.
func (p *parser) workflow(g *globals) string {
	if g.workflow == nil || !g.workflow.hasRules {
		return ""
	}
	all := append(slices.Clone(p.pre), g.vars...)
	v := p.evalRules(g.workflow.rules, p.newEvalContext(p.ref, p.scope(all).lookup))
	if !v.run {
		return "workflow: rules: " + v.why
	}
	byName := map[string]variable{}
	for _, x := range append(slices.Clone(g.vars), v.vars...) {
		byName[x.name] = x
	}
	g.vars = sortedVars(byName)
	return ""
}
