// Package yamlutil holds the YAML plumbing the dialects share: loading a
// file into yaml.Node trees with hard limits and well-placed syntax
// errors, positions, kind names for error messages, and mappings with
// merge keys (<<) applied.
//
// The API is deliberately tiny (Load, Pos, Resolve, Describe, Pairs,
// Errors, Problems, and Words for a dialect's own phrasing) so that both
// dialects can depend on it without churn.
package yamlutil

import (
	"errors"
	"fmt"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile file from exhausting memory or time.
const (
	// MaxFileSize is the largest pipeline file accepted.
	MaxFileSize = 4 << 20
	// MaxNodes bounds the number of nodes of a file, all its documents
	// together, once every alias is expanded (billion laughs).
	MaxNodes = 1_000_000
	// MaxDepth bounds the nesting of a document once aliases are expanded.
	MaxDepth = 1000
)

// Words is how a dialect phrases the problems yamlutil finds. The checks
// are the same for every dialect; the phrasing is each dialect's own, in
// the vocabulary of its documentation (GitLab says map, Drone mapping)
// and as its users have been reading it. Default is yamlutil's own.
type Words struct {
	// Kind names the kind of a node (aliases resolved; nil when a caller
	// gave Pairs nothing) for "expected X, got Y" messages.
	Kind func(n *yaml.Node) string
	// TooLarge refuses a file of size bytes, more than MaxFileSize.
	TooLarge func(file string, size int) *pipeline.Error
	// TooManyNodes and TooDeep say that the file passes MaxNodes or
	// MaxDepth once its aliases are expanded.
	TooManyNodes, TooDeep string
	// Recursive says that alias is inside the node it names.
	Recursive func(alias string) string
	// UnknownAnchor says that an alias names no anchor (a syntax error;
	// "invalid YAML: " goes before it).
	UnknownAnchor func(name string) string
	// DuplicateKey says that key was already written at line first.
	DuplicateKey func(key string, first int) string
	// KeepLast, when set, makes a key written twice in one map not an
	// error: the last value wins, in the place of the first key (as a
	// Ruby Hash does, which is what GitLab reads YAML into). It is told
	// of each duplicate, to warn.
	KeepLast func(first, dup *yaml.Node)
	// MergeNotMap says that what a merge key names is of kind, not a
	// mapping; inList when it is an item of a list the merge key names.
	MergeNotMap func(kind string, inList bool) string
}

// Default is yamlutil's own phrasing, which Load and Pairs use.
var Default = Words{
	Kind: Describe,
	TooLarge: func(file string, size int) *pipeline.Error {
		return pipeline.Errorf(pipeline.Pos{File: file, Line: 1, Column: 1},
			"file is too large: %d bytes, the limit is %d bytes (4 MiB)", size, MaxFileSize)
	},
	TooManyNodes: fmt.Sprintf("document too complex: more than %d nodes once aliases are expanded", MaxNodes),
	TooDeep:      fmt.Sprintf("document too complex: nested more than %d levels deep", MaxDepth),
	Recursive: func(alias string) string {
		return fmt.Sprintf("alias *%s is inside the node it names (recursive anchor)", alias)
	},
	UnknownAnchor: func(name string) string { return fmt.Sprintf("unknown anchor '%s' referenced", name) },
	DuplicateKey: func(key string, first int) string {
		return fmt.Sprintf("duplicate key %q: already defined at line %d", key, first)
	},
	MergeNotMap: func(kind string, _ bool) string {
		return "<<: expected a map or a list of maps to merge, got " + kind
	},
}

// Load is Default.Load.
func Load(file string, data []byte) ([]*yaml.Node, error) { return Default.Load(file, data) }

// Pairs is Default.Pairs.
func Pairs(file string, n *yaml.Node) ([]Pair, error) { return Default.Pairs(file, n) }

// Pos is where n was written in file.
func Pos(file string, n *yaml.Node) pipeline.Pos {
	if n == nil {
		return pipeline.Pos{File: file, Line: 1, Column: 1}
	}
	return pipeline.Pos{File: file, Line: n.Line, Column: n.Column}
}

// Resolve follows alias nodes to the node they name. Load guarantees
// there is no alias cycle, and yaml.v3 that every alias names a node.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i <= MaxDepth; i++ {
		n = n.Alias
	}
	return n
}

// Describe names the kind of n for messages such as "expected a string,
// got a sequence".
func Describe(n *yaml.Node) string {
	n = Resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	return "a value tagged " + n.Tag
}

// Errors flattens an error made by errors.Join (possibly nested) into its
// leaves, so callers can sort or count them.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}

// Problems is Errors as the *pipeline.Error a dialect records. yamlutil
// makes no other kind of error, but one would be kept, at the start of
// file, rather than lost.
func Problems(file string, err error) []*pipeline.Error {
	var out []*pipeline.Error
	for _, e := range Errors(err) {
		var pe *pipeline.Error
		if !errors.As(e, &pe) {
			pe = pipeline.Errorf(Pos(file, nil), "%v", e)
		}
		out = append(out, pe)
	}
	return out
}
