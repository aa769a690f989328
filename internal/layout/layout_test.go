// Package layout holds the test of the rules of the source tree's layout
// (README, "Layout"): which packages may import which.
package layout

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/slipway-ci/slipway/"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// core are the packages of the path from file to engine: no HTTP server,
// no SQL, nothing of the server or the runner agent, at any depth.
var core = []string{"pipeline", "dialect", "image", "secret", "engine", "plan", "runner"}

// serverSide are packages that only the server and the runner agent may
// use (they do not all exist yet; the rule holds from the start).
var serverSide = []string{"server", "agent"}

func TestLayoutRules(t *testing.T) {
	pkgs := list(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, err := range check(p) {
			t.Error(err)
		}
	}
}

// check applies every rule to one package.
func check(p pkg) []error {
	var errs []error
	rel := strings.TrimPrefix(p.ImportPath, mod)
	if in(rel, core...) {
		for _, d := range p.Deps {
			if d == "database/sql" || in(strings.TrimPrefix(d, mod), serverSide...) && strings.HasPrefix(d, mod) {
				errs = append(errs, fmt.Errorf("%s depends on %s: the path from file to engine has no SQL and nothing of the server", rel, d))
			}
		}
		// The engines are HTTP clients (Docker, Kubernetes); nothing else on
		// the path speaks HTTP at all.
		if !in(rel, "engine") {
			for _, i := range p.Imports {
				if i == "net/http" || i == "net/http/httptest" {
					errs = append(errs, fmt.Errorf("%s imports %s: only engines speak HTTP, as clients", rel, i))
				}
			}
		}
	}
	errs = append(errs, checkStore(rel, p)...)
	if in(rel, "engine") {
		for _, d := range p.Deps {
			if r := strings.TrimPrefix(d, mod); strings.HasPrefix(d, mod) && !in(r, "engine") {
				errs = append(errs, fmt.Errorf("%s depends on %s: an engine sees only the engine package's types", rel, d))
			}
		}
	}
	if in(rel, "dialect") {
		for _, d := range p.Deps {
			if in(strings.TrimPrefix(d, mod), "config", "plan", "runner", "engine") && strings.HasPrefix(d, mod) {
				errs = append(errs, fmt.Errorf("%s depends on %s: a dialect reads only the file, no runner configuration", rel, d))
			}
		}
	}
	return errs
}

// checkStore: the store is the server's (nothing outside server/ imports
// it), and it reaches nothing of the path from file to engine.
func checkStore(rel string, p pkg) []error {
	var errs []error
	if !in(rel, "server") {
		for _, i := range p.Imports {
			if strings.HasPrefix(i, mod) && in(strings.TrimPrefix(i, mod), "server/store") {
				errs = append(errs, fmt.Errorf("%s imports %s: only server packages use the store", rel, i))
			}
		}
	}
	if in(rel, "server/store") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, mod) && in(strings.TrimPrefix(d, mod), "runner", "plan", "engine", "dialect") {
				errs = append(errs, fmt.Errorf("%s depends on %s: the store keeps job documents as bytes, it runs nothing", rel, d))
			}
		}
	}
	return errs
}

// in reports whether rel is one of roots or below one.
func in(rel string, roots ...string) bool {
	for _, r := range roots {
		if rel == r || strings.HasPrefix(rel, r+"/") {
			return true
		}
	}
	return false
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestRulesCatchBreaks feeds check packages that break each rule: a rule
// that cannot fail would be no rule.
func TestRulesCatchBreaks(t *testing.T) {
	for _, p := range []pkg{
		{ImportPath: mod + "runner", Deps: []string{"database/sql"}},
		{ImportPath: mod + "plan", Deps: []string{mod + "server/store"}},
		{ImportPath: mod + "runner", Imports: []string{"net/http"}},
		{ImportPath: mod + "engine/kube", Deps: []string{mod + "pipeline"}},
		{ImportPath: mod + "engine/docker", Deps: []string{mod + "image"}},
		{ImportPath: mod + "dialect/gitlab", Deps: []string{mod + "config"}},
		{ImportPath: mod + "bench/cmd/x", Imports: []string{mod + "server/store/sqlite"}},
		{ImportPath: mod + "server/store/sqlite", Deps: []string{mod + "dialect/gitlab"}},
	} {
		if len(check(p)) == 0 {
			t.Errorf("%s with deps %v imports %v passed the rules", p.ImportPath, p.Deps, p.Imports)
		}
	}
	if errs := check(pkg{ImportPath: mod + "engine/docker", Imports: []string{"net/http"}, Deps: []string{mod + "engine"}}); len(errs) != 0 {
		t.Errorf("an engine as an HTTP client: %v", errs)
	}
}
