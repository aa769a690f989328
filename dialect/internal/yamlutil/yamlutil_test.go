package yamlutil

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func load(t *testing.T, in string) *yaml.Node {
	t.Helper()
	docs, err := Load("f.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	return docs[0]
}

func keys(ps []Pair) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Key.Value+"="+p.Value.Value)
	}
	return strings.Join(out, " ")
}

func TestPairsMerge(t *testing.T) {
	tests := []struct{ in, key, want string }{
		// explicit keys win wherever they stand
		{"a: &a {x: 1, y: 2}\nb:\n  x: 0\n  <<: *a\n  z: 3\n", "b", "x=0 y=2 z=3"},
		{"a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 0\n", "b", "y=2 x=0"},
		// in a list, the first map wins
		{"a: &a {x: 1}\nc: &c {x: 2, w: 4}\nb:\n  <<: [*a, *c]\n", "b", "x=1 w=4"},
		// merged maps may merge too
		{"a: &a {x: 1}\nc: &c {<<: *a, y: 2}\nb: {<<: *c}\n", "b", "x=1 y=2"},
		// a quoted << is an ordinary key
		{"b: {'<<': 1}\n", "b", "<<=1"},
	}
	for _, tt := range tests {
		root := load(t, tt.in)
		top, err := Pairs("f.yml", root)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range top {
			if p.Key.Value != tt.key {
				continue
			}
			ps, err := Pairs("f.yml", p.Value)
			if err != nil {
				t.Fatalf("%q: %v", tt.in, err)
			}
			if got := keys(ps); got != tt.want {
				t.Errorf("%q: got %s, want %s", tt.in, got, tt.want)
			}
		}
	}
}

func TestPairsErrors(t *testing.T) {
	tests := map[string]string{
		"a: 1\nb: 2\na: 3\n":  `f.yml:3:1: duplicate key "a": already defined at line 1`,
		"? [a]\n: 1\n":        "f.yml:1:3: expected a string key, got a sequence",
		"<<: [1]\n":           "f.yml:1:6: <<: expected a map or a list of maps to merge, got a number",
		"x: &x [1]\n<<: *x\n": "f.yml:1:8: <<: expected a map or a list of maps to merge, got a number",
	}
	for in, want := range tests {
		_, err := Pairs("f.yml", load(t, in))
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
	if _, err := Pairs("f.yml", load(t, "[1]")); err == nil || err.Error() != "f.yml:1:1: expected a map, got a sequence" {
		t.Errorf("sequence: got %v", err)
	}
}

func TestLoadLimits(t *testing.T) {
	tests := map[string]string{
		"a: &a [*a]\n":        "f.yml:1:8: alias *a is inside the node it names (recursive anchor)",
		"a: b: c\n":           "f.yml:1:1: invalid YAML: mapping values are not allowed in this context",
		"a:\n  - b\n  c: d\n": "f.yml:3:3: invalid YAML: did not find expected '-' indicator",
		"x: 1\ny: *nope\n":    "f.yml:2:4: invalid YAML: unknown anchor 'nope' referenced",
		strings.Repeat("[", 1100) + strings.Repeat("]", 1100): "f.yml:1:1001: document too complex: nested more than 1000 levels deep",
		strings.Repeat("#", 4<<20+1):                          "f.yml:1:1: file is too large: 4194305 bytes, the limit is 4194304 bytes (4 MiB)",
		"- " + strings.Repeat("[", 20000):                     "f.yml:1:1: invalid YAML: exceeded max depth of 10000",
		// parser problems: yaml.v3 gives the 0-based line; here at the end
		"a: 1\nb: [\n": "f.yml:3:1: invalid YAML: did not find expected node content",
		// reader problems come without a line
		"a: 1\nb: \"\x01\"\n": "f.yml:2:5: invalid YAML: control characters are not allowed",
		"a: 1\nb: é\xff\n":    "f.yml:2:5: invalid YAML: invalid leading UTF-8 octet",
		// *nope is not *nop; an alias may stand before a colon
		"# *nope\n*nop: 1\n": "f.yml:2:1: invalid YAML: unknown anchor 'nop' referenced",
	}
	for in, want := range tests {
		_, err := Load("f.yml", []byte(in))
		if err == nil || err.Error() != want {
			short := in
			if len(short) > 30 {
				short = short[:30]
			}
			t.Errorf("%q: got %v, want %s", short, err, want)
		}
	}
}

func TestLoadDocuments(t *testing.T) {
	docs, err := Load("f.yml", []byte("# c\n---\na: 1\n---\n---\nb: 2\n"))
	if err != nil || len(docs) != 2 {
		t.Fatalf("got %d docs, %v", len(docs), err)
	}
	if docs[1].Line != 6 {
		t.Errorf("second document at line %d", docs[1].Line)
	}
}

func TestDescribe(t *testing.T) {
	root := load(t, "[a, 1, 1.5, true, null, {}, [], 2001-12-14, !!binary aGk=, &x q, *x]")
	want := []string{"a string", "a number", "a number", "a boolean", "null", "a map", "a sequence", "a timestamp", "binary data", "a string", "a string"}
	for i, n := range root.Content {
		if got := Describe(n); got != want[i] {
			t.Errorf("item %d: got %s, want %s", i, got, want[i])
		}
	}
	if Describe(nil) != "nothing" {
		t.Error("nil")
	}
}

// A long chain of anchors, each holding an alias to the previous one, is
// small on disk but deep once expanded.
func TestLoadAliasChain(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x]\n")
	for i := 1; i < 5000; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d]\n", i, i, i-1)
	}
	_, err := Load("f.yml", []byte(b.String()))
	want := "document too complex: nested more than 1000 levels deep"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want ...%s", err, want)
	}
}

// The node limit is for the whole file: documents each well under it
// cannot add up to an unbounded walk. The documents before the one that
// passes it are still returned.
func TestLoadCountsWholeFile(t *testing.T) {
	doc := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n" +
		"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	if _, err := Load("f.yml", []byte(doc)); err != nil {
		t.Fatalf("one document: %v", err)
	}
	docs, err := Load("f.yml", []byte(strings.Repeat(doc+"---\n", 12)))
	want := "f.yml:47:14: document too complex: more than 1000000 nodes once aliases are expanded"
	if err == nil || err.Error() != want || len(docs) != 7 {
		t.Errorf("got %d documents and %v, want 7 and %s", len(docs), err, want)
	}
}

// A syntax error ends the file; the documents before it are returned.
func TestLoadSyntaxErrorKeepsEarlierDocuments(t *testing.T) {
	docs, err := Load("f.yml", []byte("a: 1\n---\nb: 2\n---\nc: [\n"))
	if err == nil || len(docs) != 2 {
		t.Errorf("got %d documents and %v", len(docs), err)
	}
}

// A dialect's own words replace yamlutil's.
func TestWords(t *testing.T) {
	w := Default
	w.Kind = func(*yaml.Node) string { return "a thing" }
	w.DuplicateKey = func(key string, first int) string { return fmt.Sprintf("again %s (%d)", key, first) }
	root := load(t, "a: 1\na: 2\n? [x]\n: 3\n")
	_, err := w.Pairs("f.yml", root)
	want := "f.yml:2:1: again a (1)\nf.yml:3:3: expected a string key, got a thing"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
