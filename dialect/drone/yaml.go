package drone

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// words are Drone's phrasings of what yamlutil finds: Drone's
// documentation says mapping and list, and drone users know these
// messages. A recursive alias is reported as what it amounts to, a
// document nested too deep.
var words = yamlutil.Words{
	Kind: describe,
	TooLarge: func(file string, size int) *pipeline.Error {
		return pipeline.Errorf(pipeline.Pos{File: file}, "file is %d bytes; a pipeline file may be at most 4 MiB", size)
	},
	TooManyNodes: fmt.Sprintf("document too complex: more than %d YAML nodes in the file once aliases are expanded", yamlutil.MaxNodes),
	TooDeep:      tooDeep,
	Recursive:    func(string) string { return tooDeep },
	UnknownAnchor: func(name string) string {
		return fmt.Sprintf("unknown anchor %q referenced", name)
	},
	DuplicateKey: func(key string, first int) string {
		return fmt.Sprintf("key %s is already defined at line %d", quote(key), first)
	},
	MergeNotMap: func(kind string, inList bool) string {
		if inList {
			return "<<: expected a mapping to merge, got " + kind
		}
		return "<<: expected a mapping or a list of mappings to merge, got " + kind
	},
}

var tooDeep = fmt.Sprintf("document too complex: nested more than %d levels deep (a recursive alias?)", yamlutil.MaxDepth)

// pairs lists a mapping's entries, merge keys applied, and records the
// problems found on the way.
func (p *parser) pairs(m *yaml.Node) []yamlutil.Pair {
	ps, err := words.Pairs(p.file, m)
	p.errs = append(p.errs, yamlutil.Problems(p.file, err)...)
	return ps
}

// describe is yamlutil.Describe in the words of Drone's documentation
// (mapping, list). Drone's messages never told timestamps, binary data or
// tagged values from strings, so they still read as strings. It never
// includes the value, which may be a secret.
func describe(n *yaml.Node) string {
	switch d := yamlutil.Describe(n); d {
	case "a map":
		return "a mapping"
	case "a sequence":
		return "a list"
	case "a document", "null", "a boolean", "a number", "nothing":
		return d
	}
	return "a string"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalar is a scalar's text, with null as "". Numbers and booleans keep
// the text the user wrote (1.10 stays 1.10).
func scalar(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return n.Value
}

// str reads a non-empty string (numbers and booleans are taken as
// written); what names the value in the error.
func (p *parser) str(what string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, "%s: expected a string, got %s", what, describe(n))
		return "", false
	}
	if n.Value == "" {
		p.errorf(n, "%s: expected a string, got an empty string", what)
		return "", false
	}
	return n.Value, true
}

// boolean reads true/false; yes/no/on/off are accepted as Drone's YAML 1.1
// parser did.
func (p *parser) boolean(what string, n *yaml.Node) (bool, bool) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	p.errorf(n, "%s: expected true or false, got %s", what, describe(n))
	return false, false
}

// strList reads a list of scalars; a single scalar is taken as a list of
// one when allowScalar (depends_on: other).
func (p *parser) strList(what string, n *yaml.Node, allowScalar bool) ([]*yaml.Node, bool) {
	if allowScalar && n.Kind == yaml.ScalarNode && !isNull(n) {
		return []*yaml.Node{n}, true
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a list of strings, got %s", what, describe(n))
		return nil, false
	}
	var out []*yaml.Node
	ok := true
	for _, item := range n.Content {
		item = yamlutil.Resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			p.errorf(item, "%s: expected a string, got %s", what, describe(item))
			ok = false
			continue
		}
		out = append(out, item)
	}
	return out, ok
}

// quote quotes a user-written name for a message, shortened so a huge key
// cannot flood the output. Never use it on a value that may be secret.
func quote(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// mappingOf reads a mapping node; null is an empty mapping.
func (p *parser) mappingOf(what string, n *yaml.Node) ([]yamlutil.Pair, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping, got %s", what, describe(n))
		return nil, false
	}
	return p.pairs(n), true
}
