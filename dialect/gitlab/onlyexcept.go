package gitlab

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// policy is only: or except:. Each part that is set must hold for the
// policy to hold: refs (any of them), variables (any expression true),
// changes (any glob matching a changed file).
type policy struct {
	at        *yaml.Node
	refs      []string
	hasRefs   bool
	variables []expr
	hasVars   bool
	changes   []string
	hasChg    bool
}

// refKeywords name pipelines by what started them, as only:/except: refs
// may; each maps to the CI_PIPELINE_SOURCE values it covers ("" for the
// ref-type keywords, decided by the ref).
var refKeywords = map[string][]string{
	"branches": nil, "tags": nil,
	"api": {"api"}, "chat": {"chat"}, "external": {"external"},
	"external_pull_requests": {"external_pull_request_event"},
	"merge_requests":         {"merge_request_event"},
	"pipelines":              {"pipeline", "parent_pipeline"},
	"pushes":                 {"push"}, "schedules": {"schedule"},
	"triggers": {"trigger"}, "web": {"web"},
}

// defaultOnly is what a job with neither rules: nor only: gets.
var defaultOnly = policy{refs: []string{"branches", "tags"}, hasRefs: true}

// policy reads only:/except:: a list of refs, or a map with refs,
// variables, changes and kubernetes.
func (p *parser) policy(key string, n *yaml.Node) (policy, bool) {
	v := p.value(n)
	if v == nil {
		return policy{}, false
	}
	pol := policy{at: v}
	if v.Kind != yaml.MappingNode {
		refs, ok := p.stringOrList(key, v)
		pol.refs, pol.hasRefs = refs, true
		return pol, ok && p.checkRefs(key, v, refs)
	}
	ok := true
	for _, e := range p.pairs(v) {
		switch k := e.Key.Value; k {
		case "refs":
			refs, rok := p.stringOrList(key+": refs", e.Value)
			pol.refs, pol.hasRefs = refs, true
			ok = rok && p.checkRefs(key+": refs", e.Value, refs) && ok
		case "variables":
			pol.hasVars = true
			ok = p.policyVars(key, e.Value, &pol) && ok
		case "changes":
			pol.changes, pol.hasChg = p.paths(key+": changes", e.Value), true
		case "kubernetes":
			p.warnf(e.Key, "%s: kubernetes is not supported by slipway and is ignored", key)
		default:
			p.errorf(e.Key, "%s: unknown key %s (expected refs, variables, changes or kubernetes)", key, k)
			ok = false
		}
	}
	return pol, ok
}

// checkRefs compiles /regex/ refs early, so a bad one is an error at its
// line rather than a silent mismatch.
func (p *parser) checkRefs(key string, n *yaml.Node, refs []string) bool {
	ok := true
	for i, r := range refs {
		if _, isRe, err := refRegex(r); isRe && err != nil {
			at := p.value(n)
			if at.Kind == yaml.SequenceNode && i < len(at.Content) {
				at = at.Content[i]
			}
			p.errorf(at, "%s: %v", key, err)
			ok = false
		}
	}
	return ok
}

func (p *parser) policyVars(key string, n *yaml.Node, pol *policy) bool {
	list, ok := p.stringList(key+": variables", n)
	if !ok {
		return false
	}
	items := p.value(n).Content
	for i, s := range list {
		e, err := parseExpr(s)
		if err != nil {
			p.errorf(items[i], "%s: variables: %v", key, err)
			ok = false
			continue
		}
		pol.variables = append(pol.variables, e)
	}
	return ok
}

// holds tells whether every part of the policy that is set holds.
func (pol policy) holds(c *evalContext) bool {
	if pol.hasRefs && !anyRef(pol.refs, c) {
		return false
	}
	if pol.hasVars && !anyTrue(pol.variables, c.lookup) {
		return false
	}
	return !pol.hasChg || c.changed(pol.changes)
}

// holdsAny is except:'s reading: the job is left out when any part that
// is set holds.
func (pol policy) holdsAny(c *evalContext) bool {
	return pol.hasRefs && anyRef(pol.refs, c) ||
		pol.hasVars && anyTrue(pol.variables, c.lookup) ||
		pol.hasChg && c.changed(pol.changes)
}

func anyTrue(exprs []expr, lookup lookupFunc) bool {
	for _, e := range exprs {
		if truthy(e.eval(lookup)) {
			return true
		}
	}
	return false
}

func anyRef(refs []string, c *evalContext) bool {
	for _, r := range refs {
		if refMatches(r, c) {
			return true
		}
	}
	return false
}

// refMatches matches one only:/except: ref: a keyword, a /regex/ on the
// ref name, or a ref name, optionally @namespace/project (which must be
// this project).
func refMatches(r string, c *evalContext) bool {
	switch r {
	case "branches":
		return c.ref.branch != ""
	case "tags":
		return c.ref.tag != ""
	}
	if sources, ok := refKeywords[r]; ok {
		for _, s := range sources {
			if s == c.ref.source {
				return true
			}
		}
		return false
	}
	if re, isRe, err := refRegex(r); isRe {
		return err == nil && re.MatchString(c.ref.name())
	}
	name, project, scoped := strings.Cut(r, "@")
	if scoped && project != c.project {
		return false
	}
	return name == c.ref.name()
}

// refRegex reads a /pattern/flags ref.
func refRegex(r string) (*regexp.Regexp, bool, error) {
	re, isRe, err := slashRegex(r)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %v", r, err)
	}
	return re, isRe, nil
}

// describeRef says what the pipeline is for, in messages.
func describeRef(r ref) string {
	kind := "branch " + r.branch
	if r.tag != "" {
		kind = "tag " + r.tag
	}
	if r.source == "push" {
		return "a push to " + kind
	}
	return fmt.Sprintf("a %s pipeline for %s", r.source, kind)
}
