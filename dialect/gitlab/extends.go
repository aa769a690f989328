package gitlab

import (
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"go.yaml.in/yaml/v3"
)

// maxExtendsDepth is how deep extends: may chain, as in GitLab.
const maxExtendsDepth = 11

// maxMergeDepth bounds the recursion of deep merges.
const maxMergeDepth = 100

// expand returns the named job or template with extends: applied, or nil
// after reporting why it cannot be built. Results are memoised, so a
// template shared by many jobs is expanded once; at is where the name
// was used, for positioning cycle errors.
func (p *parser) expand(name string, at *yaml.Node) *yaml.Node {
	if n, done := p.expanded[name]; done {
		return n
	}
	for i, b := range p.busy {
		if b == name {
			chain := append(append([]string(nil), p.busy[i:]...), name)
			p.errorf(at, "extends: cycle: %s", strings.Join(chain, " → "))
			return nil
		}
	}
	if len(p.busy) >= maxExtendsDepth {
		p.errorf(at, "extends: nested more than %d levels deep", maxExtendsDepth)
		return nil
	}
	p.busy = append(p.busy, name)
	n := p.expandJob(name)
	p.busy = p.busy[:len(p.busy)-1]
	p.expanded[name] = n
	return n
}

func (p *parser) expandJob(name string) *yaml.Node {
	n := p.value(p.top[name].Value)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "job %s: expected a map of job keywords, got %s", name, yamlutil.Describe(n))
		return nil
	}
	ext := p.lookup(n, "extends")
	if ext == nil {
		return n
	}
	base, ok := p.bases(ext)
	if !ok {
		return nil
	}
	if base == nil {
		return n
	}
	return p.merge(base, n, 0)
}

// bases expands and merges the jobs named by extends:, later names
// overriding earlier ones, as GitLab does.
func (p *parser) bases(ext *yaml.Node) (*yaml.Node, bool) {
	names, ok := p.stringOrList("extends", ext)
	if !ok {
		return nil, false
	}
	var base *yaml.Node
	for i, b := range names {
		at := p.value(ext)
		if at.Kind == yaml.SequenceNode {
			at = at.Content[i]
		}
		if _, exists := p.top[b]; !exists || isReserved(b) {
			p.errorf(at, "extends: no job or template named %q%s", b, p.includeHint())
			ok = false
			continue
		}
		n := p.expand(b, at)
		if n == nil {
			ok = false
			continue
		}
		if base == nil {
			base = n
		} else {
			base = p.merge(base, n, 0)
		}
	}
	return base, ok
}

// merge deep-merges over onto base the way GitLab's extends: does: maps
// merge key by key, anything else (lists included) is replaced by over's
// value. Nodes are never modified: merged maps are new nodes holding the
// original keys and values, so positions still point into the file.
func (p *parser) merge(base, over *yaml.Node, depth int) *yaml.Node {
	return p.deepMerge(base, over, depth, p.value)
}

// deepMerge is merge with the reading of values given: include: merges
// files before !reference tags can be resolved, so it only follows
// aliases.
func (p *parser) deepMerge(base, over *yaml.Node, depth int, value func(*yaml.Node) *yaml.Node) *yaml.Node {
	b, o := value(base), value(over)
	if b == nil || o == nil || b.Kind != yaml.MappingNode || o.Kind != yaml.MappingNode || depth > maxMergeDepth {
		return over
	}
	bp, op := p.pairs(b), p.pairs(o)
	index := make(map[string]int, len(op))
	for i, e := range op {
		index[e.Key.Value] = i
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: o.Line, Column: o.Column}
	used := make([]bool, len(op))
	for _, e := range bp {
		if i, ok := index[e.Key.Value]; ok {
			used[i] = true
			out.Content = append(out.Content, op[i].Key, p.deepMerge(e.Value, op[i].Value, depth+1, value))
			continue
		}
		out.Content = append(out.Content, e.Key, e.Value)
	}
	for i, e := range op {
		if !used[i] {
			out.Content = append(out.Content, e.Key, e.Value)
		}
	}
	return out
}
