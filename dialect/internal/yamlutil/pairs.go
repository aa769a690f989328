package yamlutil

import (
	"errors"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Pair is one entry of a mapping. Key is the key node, Value the value;
// both have their aliases resolved.
type Pair struct {
	Key, Value *yaml.Node
}

// Pairs lists the entries of mapping n (aliases resolved) in file order,
// applying YAML merge keys: `<<: *a` or `<<: [*a, *b]` inserts the
// entries of the named maps where the merge key stands; keys written in n
// win over merged ones and, among merged maps, the first one wins (YAML
// 1.1 merge semantics). Duplicate keys written in one map (which yaml.v3
// only checks when decoding into Go values), non-scalar keys and merges
// of non-maps are errors (joined *pipeline.Error), phrased by w.
func (w Words) Pairs(file string, n *yaml.Node) ([]Pair, error) {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, pipeline.Errorf(Pos(file, n), "expected a map, got %s", w.Kind(n))
	}
	return w.pairs(file, n, 0)
}

func (w Words) pairs(file string, n *yaml.Node, depth int) ([]Pair, error) {
	if depth > MaxDepth {
		return nil, pipeline.Errorf(Pos(file, n), "%s", w.TooDeep)
	}
	own, dups, errs := w.ownKeys(file, n)
	var out []Pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		if isMerge(k) {
			merged, err := w.mergeSources(file, v, depth)
			errs = append(errs, err)
			for _, p := range merged {
				if own[p.Key.Value] == nil && !seen[p.Key.Value] {
					seen[p.Key.Value] = true
					out = append(out, p)
				}
			}
			continue
		}
		if own[k.Value] != k {
			continue // reported by ownKeys, or a duplicate KeepLast placed
		}
		seen[k.Value] = true
		if last := dups[k]; last != nil {
			k, v = last.Node, Resolve(last.value)
		}
		out = append(out, Pair{Key: k, Value: v})
	}
	return out, errors.Join(errs...)
}

// lastKey is the last of a key written more than once, with its value.
type lastKey struct {
	*yaml.Node
	value *yaml.Node
}

// ownKeys indexes the keys written in n itself, which win over merged
// ones; it reports those that are not strings or are written twice.
// With KeepLast, dups maps the first of a repeated key to the last.
func (w Words) ownKeys(file string, n *yaml.Node) (map[string]*yaml.Node, map[*yaml.Node]*lastKey, []error) {
	own := map[string]*yaml.Node{}
	var dups map[*yaml.Node]*lastKey
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := Resolve(n.Content[i])
		switch first := own[k.Value]; {
		case isMerge(k):
		case k.Kind != yaml.ScalarNode:
			errs = append(errs, pipeline.Errorf(Pos(file, k), "expected a string key, got %s", w.Kind(k)))
		case first != nil && w.KeepLast != nil:
			w.KeepLast(first, k)
			if dups == nil {
				dups = map[*yaml.Node]*lastKey{}
			}
			dups[first] = &lastKey{k, n.Content[i+1]}
		case first != nil:
			errs = append(errs, pipeline.Errorf(Pos(file, k), "%s", w.DuplicateKey(k.Value, first.Line)))
		default:
			own[k.Value] = k
		}
	}
	return own, dups, errs
}

// isMerge is yaml.v3's test: a plain << (a quoted one is an ordinary key).
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// mergeSources lists the entries a merge key's value contributes: those
// of a map, or of each map of a list.
func (w Words) mergeSources(file string, v *yaml.Node, depth int) ([]Pair, error) {
	srcs, inList := []*yaml.Node{v}, false
	if v != nil && v.Kind == yaml.SequenceNode {
		srcs, inList = v.Content, true
	}
	var out []Pair
	var errs []error
	for _, s := range srcs {
		s = Resolve(s)
		if s == nil || s.Kind != yaml.MappingNode {
			errs = append(errs, pipeline.Errorf(Pos(file, s), "%s", w.MergeNotMap(w.Kind(s), inList)))
			continue
		}
		ps, err := w.pairs(file, s, depth+1)
		out, errs = append(out, ps...), append(errs, err)
	}
	return out, errors.Join(errs...)
}
