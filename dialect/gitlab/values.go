package gitlab

import (
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// maxRefDepth is how deep !reference tags may chain, as in GitLab.
const maxRefDepth = 10

// maxListDepth bounds nested script lists (GitLab allows 10 levels; a bit
// more room here costs nothing and still stops !reference cycles).
const maxListDepth = 16

// value resolves aliases and !reference tags. It returns nil when n
// cannot be read; the reason has then been recorded, and callers skip
// the value quietly so one mistake gives one error.
func (p *parser) value(n *yaml.Node) *yaml.Node {
	n = yamlutil.Resolve(n)
	if n == nil || !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return n
	}
	if n.Tag != "!reference" {
		p.errorf(n, "unknown YAML tag %s (slipway knows !reference)", n.Tag)
		return nil
	}
	// A reference may name another reference, directly or through the
	// path it walks; refDepth counts both, so cycles end here.
	if p.refDepth >= maxRefDepth {
		p.errorf(n, "!reference: nested more than %d levels deep (a reference cycle?)", maxRefDepth)
		return nil
	}
	p.refDepth++
	defer func() { p.refDepth-- }()
	return p.value(p.reference(n))
}

// reference finds the node a `!reference [.job, key, ...]` names. Like
// GitLab it looks in the file as written, before extends: is applied.
func (p *parser) reference(ref *yaml.Node) *yaml.Node {
	if ref.Kind != yaml.SequenceNode || len(ref.Content) == 0 {
		p.errorf(ref, "!reference: expected a list like [.job, script], got %s", yamlutil.Describe(ref))
		return nil
	}
	var cur *yaml.Node
	for i, k := range ref.Content {
		name, ok := p.plainString(k)
		if !ok {
			p.errorf(k, "!reference: expected a string, got %s", yamlutil.Describe(k))
			return nil
		}
		if i == 0 {
			e, ok := p.top[name]
			if !ok {
				p.errorf(k, "!reference: no job or template named %q%s", name, p.includeHint())
				return nil
			}
			cur = e.Value
			continue
		}
		if cur = p.value(cur); cur == nil {
			return nil
		}
		if cur.Kind != yaml.MappingNode {
			p.errorf(k, "!reference: cannot look up %q in %s", name, yamlutil.Describe(cur))
			return nil
		}
		cur = p.lookup(cur, name)
		if cur == nil {
			p.errorf(k, "!reference: key %q not found", name)
			return nil
		}
	}
	return cur
}

// lookup returns the value of key in mapping m, or nil.
func (p *parser) lookup(m *yaml.Node, key string) *yaml.Node {
	for _, e := range p.pairs(m) {
		if e.Key.Value == key {
			return e.Value
		}
	}
	return nil
}

// pairs lists a mapping's entries, merge keys applied. Values are not yet
// passed through value, so a broken reference in an ignored key costs
// nothing.
func (p *parser) pairs(m *yaml.Node) []yamlutil.Pair {
	if !p.charge(len(m.Content)/2+1, m) {
		return nil
	}
	ps, err := p.words().Pairs(p.file, m)
	p.addErr(err)
	return ps
}

// words is yamlutil's phrasing, but a key written twice in a map is not
// an error: GitLab reads YAML into a Ruby Hash, where the last one wins.
func (p *parser) words() yamlutil.Words {
	w := yamlutil.Default
	w.KeepLast = func(first, dup *yaml.Node) {
		p.warnf(dup, "%s is also written at line %d; as in GitLab, this later one is used", dup.Value, first.Line)
	}
	return w
}

// mapping reads n as a map, or reports what was expected.
func (p *parser) mapping(key string, n *yaml.Node) ([]yamlutil.Pair, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a map, got %s", key, yamlutil.Describe(n))
		return nil, false
	}
	return p.pairs(n), true
}

// plainString reads a string scalar (no numbers or booleans: GitLab's
// Ruby would load those as other types and reject them).
func (p *parser) plainString(n *yaml.Node) (string, bool) {
	n = yamlutil.Resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

// str reads a string value for key, or reports what was expected.
func (p *parser) str(key string, n *yaml.Node) (string, bool) {
	if n = p.value(n); n == nil {
		return "", false
	}
	s, ok := p.plainString(n)
	if !ok {
		p.errorf(n, "%s: expected a string, got %s", key, yamlutil.Describe(n))
	}
	return s, ok
}

// boolean reads a true/false value for key.
func (p *parser) boolean(key string, n *yaml.Node) (bool, bool) {
	if n = p.value(n); n == nil {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errorf(n, "%s: expected true or false, got %s", key, yamlutil.Describe(n))
		return false, false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
}

// strings reads a list of strings (a lone string is not accepted: the
// image and service options that use this are exec-form arrays).
func (p *parser) stringList(key string, n *yaml.Node) ([]string, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a list of strings, got %s", key, yamlutil.Describe(n))
		return nil, false
	}
	if !p.charge(len(n.Content), n) {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		c = p.value(c)
		if c == nil {
			ok = false
			continue
		}
		s, isStr := p.plainString(c)
		if !isStr {
			p.errorf(c, "%s: expected a list of strings, found %s in it", key, yamlutil.Describe(c))
			ok = false
		}
		out = append(out, s)
	}
	return out, ok
}

// stringOrList reads a string or a list of strings.
func (p *parser) stringOrList(key string, n *yaml.Node) ([]string, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if s, ok := p.plainString(n); ok {
		return []string{s}, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a string or a list of strings, got %s", key, yamlutil.Describe(n))
		return nil, false
	}
	return p.stringList(key, n)
}

// commands reads script, before_script or after_script: a string or a
// list whose items are strings or (nested) lists, flattened in order as
// GitLab does; nested lists come from anchors and !reference.
func (p *parser) commands(key string, n *yaml.Node) ([]string, bool) {
	var out []string
	ok := p.flatten(key, n, 0, &out)
	return out, ok
}

func (p *parser) flatten(key string, n *yaml.Node, depth int, out *[]string) bool {
	if n = p.value(n); n == nil {
		return false
	}
	if s, ok := p.plainString(n); ok {
		*out = append(*out, s)
		return true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a string or a list of strings, got %s%s", key, yamlutil.Describe(n), quoteHint(n))
		return false
	}
	if depth >= maxListDepth {
		p.errorf(n, "%s: lists nested more than %d levels deep (a !reference cycle?)", key, maxListDepth)
		return false
	}
	if !p.charge(len(n.Content)+1, n) {
		return false
	}
	ok := true
	for _, c := range n.Content {
		ok = p.flatten(key, c, depth+1, out) && ok
	}
	return ok
}

// quoteHint explains the commonest cause of a map in a script: an
// unquoted command containing ": ".
func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		return ` (a command containing ": " must be quoted)`
	}
	return ""
}

// variable is one YAML variable with where it was defined.
type variable struct {
	name, value string
	pos         pipeline.Pos
	// raw is expand: false: the value is used as written, $ and all.
	raw bool
}

// variables reads a variables: map. Values are strings, numbers or
// booleans, kept as written, or the map form {value:, description:}.
func (p *parser) variables(key string, n *yaml.Node) []variable {
	entries, ok := p.mapping(key, n)
	if !ok {
		return nil
	}
	out := make([]variable, 0, len(entries))
	for _, e := range entries {
		name := e.Key.Value
		if name == "" || strings.ContainsAny(name, "=\x00") {
			p.errorf(e.Key, "%s: invalid variable name %q", key, name)
			continue
		}
		if v, raw, ok := p.variableValue(name, e.Value); ok {
			out = append(out, variable{name: name, value: v, pos: p.pos(e.Key), raw: raw})
		}
	}
	return out
}

func (p *parser) variableValue(name string, n *yaml.Node) (value string, raw, ok bool) {
	if n = p.value(n); n == nil {
		return "", false, false
	}
	if n.Kind == yaml.MappingNode {
		return p.variableMap(name, n)
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return n.Value, false, true
		}
	}
	p.errorf(n, "variable %s: expected a string, a number, a boolean or a map with value, got %s", name, yamlutil.Describe(n))
	return "", false, false
}

// variableMap reads the {value:, description:, expand:, options:} form.
// A variable with only a description has an empty value, as in GitLab.
func (p *parser) variableMap(name string, n *yaml.Node) (value string, raw, ok bool) {
	ok = true
	for _, e := range p.pairs(n) {
		switch k := e.Key.Value; k {
		case "value":
			v := p.value(e.Value)
			if v == nil {
				ok = false
			} else if v.Kind != yaml.ScalarNode || !slices.Contains([]string{"!!str", "!!int", "!!float", "!!bool"}, v.ShortTag()) {
				p.errorf(v, "variable %s: value: expected a string, got %s", name, yamlutil.Describe(v))
				ok = false
			} else {
				value = v.Value
			}
		case "description":
			p.str("description", e.Value)
		case "expand":
			expand, _ := p.boolean("expand", e.Value)
			raw = !expand
		case "options":
			// The choices offered when a pipeline is run by hand; value
			// is the default, which is what a local run takes.
		default:
			p.warnf(e.Key, "unknown key %s", k)
		}
	}
	return value, raw, ok
}
