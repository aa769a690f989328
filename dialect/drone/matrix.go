package drone

import (
	"maps"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// maxAxes is Drone 0.8's limit on the combinations a matrix of
// NAME: [values...] expands to.
const maxAxes = 25

// axis is one combination of a Drone 0.x matrix: variable to value.
type axis map[string]string

// name is the axis as the pipeline's name: NAME=value pairs, sorted.
func (a axis) name() string {
	if len(a) == 0 {
		return "default"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		parts = append(parts, k+"="+a[k])
	}
	return strings.Join(parts, " ")
}

// env is the axis as environment variables, which Drone 0.8 gave every
// container of the axis's build.
func (a axis) env() []pipeline.EnvVar {
	var out []pipeline.EnvVar
	for _, k := range slices.Sorted(maps.Keys(a)) {
		out = append(out, pipeline.EnvVar{Name: k, Value: a[k]})
	}
	return out
}

// matrix reads a Drone 0.x file's matrix: (before substitution, which
// needs it), either NAME: [values...] for every combination, or include:
// [{NAME: value, ...}, ...] for the listed ones. nil when the file has
// none, or cannot be read (the real parse says why).
func (p *parser) matrix(data []byte) []axis {
	docs, err := words.Load(p.file, data)
	if err != nil || len(docs) != 1 || docs[0].Kind != yaml.MappingNode {
		return nil
	}
	pairs, err := words.Pairs(p.file, docs[0])
	m := find(pairs, "matrix")
	if err != nil || m == nil || find(pairs, "kind") != nil {
		return nil
	}
	if inc := p.matrixInclude(m.Value); inc != nil {
		return p.includedAxes(inc) // Drone set no limit on a list
	}
	axes := p.productAxes(m.Value)
	if len(axes) > maxAxes {
		p.warnf(m.Key, "matrix: %d combinations; only the first %d run, as in Drone 0.8", len(axes), maxAxes)
		axes = axes[:maxAxes]
	}
	return axes
}

// matrixInclude is the include: list of a matrix, or nil.
func (p *parser) matrixInclude(v *yaml.Node) *yaml.Node {
	pairs, ok := p.mappingOf("matrix", v)
	if !ok {
		return nil
	}
	if inc := find(pairs, "include"); inc != nil {
		return inc.Value
	}
	return nil
}

func (p *parser) includedAxes(inc *yaml.Node) []axis {
	if inc.Kind != yaml.SequenceNode {
		p.errorf(inc, "matrix include: expected a list of mappings, got %s", describe(inc))
		return nil
	}
	var axes []axis
	for _, item := range inc.Content {
		a := axis{}
		pairs, ok := p.mappingOf("matrix include", yamlutil.Resolve(item))
		for _, pr := range pairs {
			v, good := p.matrixValue(pr.Value)
			a[pr.Key.Value], ok = v, ok && good
		}
		if ok { // a broken entry has its error
			axes = append(axes, a)
		}
	}
	return axes
}

// productAxes is every combination of NAME: [values...], names sorted.
func (p *parser) productAxes(v *yaml.Node) []axis {
	pairs, _ := p.mappingOf("matrix", v)
	axes := []axis{{}}
	slices.SortFunc(pairs, func(a, b yamlutil.Pair) int { return strings.Compare(a.Key.Value, b.Key.Value) })
	for _, pr := range pairs {
		values, _ := p.strList("matrix "+quote(pr.Key.Value), pr.Value, true)
		var next []axis
		for _, a := range axes {
			for _, n := range values {
				b := maps.Clone(a)
				b[pr.Key.Value] = n.Value
				next = append(next, b)
			}
		}
		axes = next
	}
	if len(axes) == 1 && len(axes[0]) == 0 {
		return nil
	}
	return axes
}

func (p *parser) matrixValue(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "matrix: expected a value, got %s", describe(n))
		return "", false
	}
	return scalar(n), true
}

// matrixCondition is a step's when: matrix: {NAME: value}: with Drone
// 0.8's rule, the step runs only in the axes where every NAME has its
// value (so never, in a file without a matrix). {include, exclude}
// mappings are read as Drone read them.
func (p *parser) matrixCondition(v *yaml.Node, what string) (skip string) {
	pairs, ok := p.mappingOf(what, v)
	if !ok {
		return ""
	}
	include, exclude := pairs, []yamlutil.Pair(nil)
	if inc, exc := find(pairs, "include"), find(pairs, "exclude"); inc != nil || exc != nil {
		include, exclude = p.subMap(inc, what), p.subMap(exc, what)
	}
	for _, pr := range include {
		if p.axis[pr.Key.Value] != scalar(pr.Value) {
			return what + " does not match the matrix axis " + quoteValue(p.axis.name())
		}
	}
	if len(exclude) == 0 {
		return ""
	}
	for _, pr := range exclude {
		if p.axis[pr.Key.Value] != scalar(pr.Value) {
			return ""
		}
	}
	return what + " excludes the matrix axis " + quoteValue(p.axis.name())
}

func (p *parser) subMap(pr *yamlutil.Pair, what string) []yamlutil.Pair {
	if pr == nil {
		return nil
	}
	pairs, _ := p.mappingOf(what+"."+pr.Key.Value, pr.Value)
	return pairs
}
