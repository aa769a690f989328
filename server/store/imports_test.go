package store_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/slipway-ci/slipway/"

// moduleImports maps each package directory of the module (relative, with
// slashes) to the module packages its files import, tests included.
func moduleImports(t *testing.T) map[string][]string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	graph := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		dir := filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) {
				graph[dir] = append(graph[dir], strings.TrimPrefix(p, module))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return graph
}

func under(dir, tree string) bool { return dir == tree || strings.HasPrefix(dir, tree+"/") }

// TestOnlyServerImportsStore: the store is the server's; runners and the
// packages below them never learn about SQL.
func TestOnlyServerImportsStore(t *testing.T) {
	graph := moduleImports(t)
	if len(graph["server/store/sqlite"]) == 0 {
		t.Fatal("the import graph is empty: the walk found no sources")
	}
	for dir, imps := range graph {
		for _, p := range imps {
			if under(p, "server/store") && !under(dir, "server") {
				t.Errorf("%s imports %s: only server packages may use the store", dir, p)
			}
		}
	}
}

// TestStoreImportsNoRunner: nothing the store tree uses, however
// indirectly, is the runner, the planner, an engine or a dialect.
func TestStoreImportsNoRunner(t *testing.T) {
	graph := moduleImports(t)
	seen := map[string]string{} // package -> who imported it
	var walk func(dir string)
	walk = func(dir string) {
		for _, p := range graph[dir] {
			if _, ok := seen[p]; !ok {
				seen[p] = dir
				walk(p)
			}
		}
	}
	for dir := range graph {
		if under(dir, "server/store") {
			walk(dir)
		}
	}
	for p, by := range seen {
		for _, banned := range []string{"runner", "plan", "engine", "dialect"} {
			if under(p, banned) {
				t.Errorf("the store reaches %s (imported by %s)", p, by)
			}
		}
	}
}
