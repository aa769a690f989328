package drone

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// condition is one key of when: or trigger: — a list of glob patterns,
// or {include, exclude}.
type condition struct {
	include, exclude []string
}

// match is Drone's rule: an excluded value never matches, an included one
// does, and with no include list everything else does.
func (c condition) match(v string) bool {
	for _, pat := range c.exclude {
		if globMatch(pat, v) {
			return false
		}
	}
	for _, pat := range c.include {
		if globMatch(pat, v) {
			return true
		}
	}
	return len(c.include) == 0
}

// globMatch: Drone's patterns are globs; "**" also crosses slashes
// (refs/heads/**).
func globMatch(pat, v string) bool {
	if ok, _ := path.Match(pat, v); ok {
		return true
	}
	if prefix, ok := strings.CutSuffix(pat, "**"); ok {
		return strings.HasPrefix(v, prefix)
	}
	return false
}

// unsupportedConditions are real Drone condition keys that slipway does
// not evaluate: they are warned about and do not skip anything.
var unsupportedConditions = set("paths", "platform", "environment", "local")

// conditions reads a when: or trigger: mapping. It returns the status
// part as a pipeline.When, and why the step or pipeline does not run in
// this context ("" when it does).
func (p *parser) conditions(v *yaml.Node, what string) (pipeline.When, string) {
	pairs, ok := p.mappingOf(what, v)
	if !ok {
		return pipeline.OnSuccess, ""
	}
	when, skip := pipeline.OnSuccess, ""
	for _, pr := range pairs {
		key := pr.Key.Value
		if unsupportedConditions[key] {
			p.warnf(pr.Key, "%s: condition %s is not supported by slipway and is ignored", what, quote(key))
			continue
		}
		if key == "matrix" {
			skip = cmp.Or(skip, p.matrixCondition(pr.Value, what+".matrix"))
			continue
		}
		c, ok := p.condition(pr.Value, what+"."+key)
		if !ok {
			continue
		}
		if key == "status" {
			var never string
			c, never = p.withoutChanged(pr.Key, c, what)
			when = p.statusWhen(pr.Value, c, what)
			skip = cmp.Or(skip, never)
			continue
		}
		val, known := p.ctx.value(key)
		if !known {
			p.warnf(pr.Key, "unknown key %s", quote(key))
			continue
		}
		if !c.match(val) && skip == "" {
			skip = what + "." + key + " does not match " + key + " " + quoteValue(val)
		}
	}
	return when, skip
}

func quoteValue(v string) string {
	if v == "" {
		return "(none given)"
	}
	return quote(v)
}

// condition reads a string, a list of strings, or {include, exclude}.
func (p *parser) condition(v *yaml.Node, what string) (condition, bool) {
	var c condition
	if v.Kind != yaml.MappingNode {
		items, ok := p.strList(what, v, true)
		for _, n := range items {
			c.include = append(c.include, n.Value)
		}
		return c, ok
	}
	pairs, _ := p.mappingOf(what, v)
	ok := true
	for _, pr := range pairs {
		items, good := p.strList(what+"."+pr.Key.Value, pr.Value, true)
		ok = ok && good
		var list []string
		for _, n := range items {
			list = append(list, n.Value)
		}
		switch pr.Key.Value {
		case "include":
			c.include = list
		case "exclude":
			c.exclude = list
		default:
			p.errorf(pr.Key, "%s: expected include or exclude, got %s", what, quote(pr.Key.Value))
			ok = false
		}
	}
	return c, ok
}

// withoutChanged takes Drone 0.x's status "changed" (the build's status
// differs from the previous build's) out of c: a local run has no
// previous build, so it never matches. When it was all c asked for, the
// step never runs, and never says why.
func (p *parser) withoutChanged(k *yaml.Node, c condition, what string) (condition, string) {
	if !slices.Contains(c.include, "changed") && !slices.Contains(c.exclude, "changed") {
		return c, ""
	}
	p.warnf(k, "%s.status: changed compares with the previous build, which slipway does not have; it never matches", what)
	isChanged := func(s string) bool { return s == "changed" }
	only := len(c.include) > 0 && !slices.ContainsFunc(c.include, func(s string) bool { return s != "changed" })
	c.include = slices.DeleteFunc(slices.Clone(c.include), isChanged)
	c.exclude = slices.DeleteFunc(slices.Clone(c.exclude), isChanged)
	if only {
		return condition{}, what + ".status is only changed, which never matches here"
	}
	return c, ""
}

// statusWhen turns status: [success, failure] into a pipeline.When.
func (p *parser) statusWhen(v *yaml.Node, c condition, what string) pipeline.When {
	for _, s := range append(c.include, c.exclude...) {
		if s != "success" && s != "failure" {
			p.errorf(v, "%s.status: expected success or failure, got %s", what, quote(s))
			return pipeline.OnSuccess
		}
	}
	onSuccess, onFailure := c.match("success"), c.match("failure")
	switch {
	case len(c.include) == 0 && len(c.exclude) == 0:
		return pipeline.OnSuccess
	case onSuccess && onFailure:
		return pipeline.Always
	case onFailure:
		return pipeline.OnFailure
	case !onSuccess:
		p.errorf(v, "%s.status: matches neither success nor failure; the step could never run", what)
	}
	return pipeline.OnSuccess
}
