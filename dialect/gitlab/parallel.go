package gitlab

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"go.yaml.in/yaml/v3"
)

// maxParallel is GitLab's limit on the jobs one parallel: makes.
const maxParallel = 200

// instance is one of the jobs a parallel: job becomes.
type instance struct {
	suffix string     // " 2/3", or ": [a, b]" for a matrix
	vars   []variable // CI_NODE_INDEX, CI_NODE_TOTAL and the matrix's
}

// single is the one instance of a job without parallel:.
var single = []instance{{}}

// parallel reads parallel: N (named "job 1/N" ... "job N/N") or
// parallel: matrix: (named "job: [v1, v2]", one job per combination of
// each entry's values, in the order written).
func (p *parser) parallel(n *yaml.Node) []instance {
	v := p.value(n)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		count, err := strconv.Atoi(v.Value)
		if err != nil || count < 1 || count > maxParallel {
			p.errorf(v, "parallel: expected a number from 1 to %d, got %s", maxParallel, v.Value)
			return nil
		}
		out := make([]instance, count)
		for i := range out {
			out[i] = instance{suffix: fmt.Sprintf(" %d/%d", i+1, count)}
		}
		return numbered(out)
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "parallel: expected a number or matrix:, got %s", yamlutil.Describe(v))
		return nil
	}
	var out []instance
	for _, e := range p.pairs(v) {
		if e.Key.Value != "matrix" {
			p.errorf(e.Key, "parallel: unknown key %s (expected matrix)", e.Key.Value)
			return nil
		}
		out = p.matrix(e.Value)
	}
	return numbered(out)
}

// numbered sets CI_NODE_INDEX and CI_NODE_TOTAL on each instance.
func numbered(in []instance) []instance {
	for i := range in {
		in[i].vars = append(in[i].vars,
			variable{name: "CI_NODE_INDEX", value: strconv.Itoa(i + 1), raw: true},
			variable{name: "CI_NODE_TOTAL", value: strconv.Itoa(len(in)), raw: true})
	}
	return in
}

// matrix reads a list of maps of variable → value or list of values.
func (p *parser) matrix(n *yaml.Node) []instance {
	v := p.value(n)
	if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		p.errorf(n, "parallel: matrix: expected a list of maps of variables, got %s", yamlutil.Describe(v))
		return nil
	}
	var out []instance
	for _, entry := range v.Content {
		entries, ok := p.mapping("parallel: matrix", entry)
		if !ok {
			return nil
		}
		combos := []instance{{}}
		for _, e := range entries {
			values, ok := p.matrixValues(e.Value)
			if !ok || len(combos)*len(values) > maxParallel {
				if ok {
					p.errorf(e.Key, "parallel: matrix makes more than %d jobs", maxParallel)
				}
				return nil
			}
			combos = product(combos, e.Key.Value, values)
		}
		out = append(out, combos...)
		if len(out) > maxParallel {
			p.errorf(entry, "parallel: matrix makes more than %d jobs", maxParallel)
			return nil
		}
	}
	for i := range out {
		names := make([]string, len(out[i].vars))
		for j, x := range out[i].vars {
			names[j] = x.value
		}
		out[i].suffix = ": [" + strings.Join(names, ", ") + "]"
	}
	return out
}

// matrixValues reads one value or a list of values (strings or numbers).
func (p *parser) matrixValues(n *yaml.Node) ([]string, bool) {
	v := p.value(n)
	items := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = p.value(it)
		if it == nil || it.Kind != yaml.ScalarNode || it.ShortTag() == "!!null" {
			p.errorf(n, "parallel: matrix: expected a value or a list of values, got %s", yamlutil.Describe(it))
			return nil, false
		}
		out = append(out, it.Value)
	}
	return out, len(out) > 0
}

// product extends every combination with each value of name.
func product(combos []instance, name string, values []string) []instance {
	out := make([]instance, 0, len(combos)*len(values))
	for _, c := range combos {
		for _, val := range values {
			vars := append(append([]variable(nil), c.vars...), variable{name: name, value: val})
			out = append(out, instance{vars: vars})
		}
	}
	return out
}
