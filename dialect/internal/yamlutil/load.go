package yamlutil

import (
	"bytes"
	"errors"
	"io"

	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Load parses data into one node per YAML document (the document's
// content node; empty documents, even after ---, are skipped). It refuses
// files larger than MaxFileSize, files whose documents together expand
// beyond MaxNodes once their aliases are expanded, documents nested
// beyond MaxDepth, and aliases that contain their own anchor, so that
// callers may walk the trees, following aliases, without further guards.
//
// A syntax error ends the file. On error the documents before the
// problem are still returned, checked, so that a dialect reading several
// documents can report their errors too. Every error is a *pipeline.Error
// positioned in file (two are joined: a limit passed before a syntax
// error), phrased by w.
func (w Words) Load(file string, data []byte) ([]*yaml.Node, error) {
	if len(data) > MaxFileSize {
		return nil, w.TooLarge(file, len(data))
	}
	all, syntaxErr := w.decode(file, data)
	docs, limitErr := w.checkLimits(file, all)
	return docs, errors.Join(limitErr, syntaxErr)
}

// decode reads the documents of data up to the first syntax error.
func (w Words) decode(file string, data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		// The YAML parser is third-party code; a panic in it must not
		// take the process down. It ends the file as a syntax error does.
		if r := recover(); r != nil {
			err = pipeline.Errorf(Pos(file, nil), "invalid YAML: the parser failed: %v", r)
		}
	}()
	if docs, err = parse(data); err != nil {
		err = w.syntaxError(file, data, err)
	}
	return docs, err
}

// parse reads the documents of data up to the first error, as yaml.v3
// reports it.
func parse(data []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		doc := new(yaml.Node)
		if err := dec.Decode(doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		docs = append(docs, doc)
	}
}

// checkLimits counts the nodes of all the documents together, so that
// many documents each under MaxNodes cannot add up to an unbounded walk,
// and returns the content of the documents before the first one past a
// limit.
func (w Words) checkLimits(file string, docs []*yaml.Node) ([]*yaml.Node, error) {
	c := &counter{w: w, file: file, size: map[*yaml.Node]int{}, depth: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	var out []*yaml.Node
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		if err := c.walk(doc, 0); err != nil {
			return out, err
		}
		if root := doc.Content[0]; !isBare(root) {
			out = append(out, root)
		}
	}
	return out, nil
}

// isBare tells the content of a document that is "---" with nothing
// after it.
func isBare(root *yaml.Node) bool {
	return root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Value == ""
}

// counter walks a file as if every alias were expanded, without
// expanding any: the size and depth of each node's expansion are
// measured once, so the check is linear in the file size.
type counter struct {
	w     Words
	file  string
	nodes int // in the file so far, at most MaxNodes+1
	size  map[*yaml.Node]int
	depth map[*yaml.Node]int
	busy  map[*yaml.Node]bool
}

// walk counts the nodes of n, written at nesting level, in file order.
func (c *counter) walk(n *yaml.Node, level int) error {
	if n.Kind == yaml.AliasNode {
		size, depth, err := c.measure(n, level)
		if err != nil {
			return err
		}
		return c.add(n, size, level+depth-1)
	}
	if err := c.add(n, 1, level); err != nil {
		return err
	}
	for _, child := range n.Content {
		if err := c.walk(child, level+1); err != nil {
			return err
		}
	}
	return nil
}

// add counts the size nodes n stands for, which reach down to nesting
// level deepest. A limit is reported where it is passed: at n, an alias
// when it is passed inside the alias's expansion, since the alias is what
// to change in the file.
func (c *counter) add(n *yaml.Node, size, deepest int) error {
	c.nodes = min(c.nodes+size, MaxNodes+1)
	switch {
	case deepest > MaxDepth:
		return pipeline.Errorf(Pos(c.file, n), "%s", c.w.TooDeep)
	case c.nodes > MaxNodes:
		return pipeline.Errorf(Pos(c.file, n), "%s", c.w.TooManyNodes)
	}
	return nil
}

// measure returns the size and depth of n, at nesting level, once its
// aliases are expanded. Sizes saturate just above MaxNodes so that sums
// cannot overflow, and the recursion stops below MaxDepth, however long
// a chain of aliases is, with a depth that is enough to fail the check.
func (c *counter) measure(n *yaml.Node, level int) (size, depth int, err error) {
	if sz, ok := c.size[n]; ok {
		return sz, c.depth[n], nil
	}
	if level > MaxDepth {
		return 1, 1, nil
	}
	if n.Kind == yaml.AliasNode && c.busy[n.Alias] {
		return 0, 0, pipeline.Errorf(Pos(c.file, n), "%s", c.w.Recursive(n.Value))
	}
	c.busy[n] = true
	defer delete(c.busy, n)
	size = 1
	for _, child := range expansion(n) {
		sz, d, err := c.measure(child, level+1)
		if err != nil {
			return 0, 0, err
		}
		size, depth = min(size+sz, MaxNodes+1), max(depth, d)
	}
	c.size[n], c.depth[n] = size, depth+1
	return size, depth + 1, nil
}

// expansion is what n stands for below itself: the node an alias names,
// or the content of any other node.
func expansion(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		return []*yaml.Node{n.Alias}
	}
	return n.Content
}
