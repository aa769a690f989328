package drone

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// goldenContext is a push to main, the context the golden files' when:
// and trigger: conditions are matched against.
var goldenContext = Context{Branch: "main", Event: "push", Ref: "refs/heads/main", Repo: "group/project"}

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// golden is what a golden file holds: the parsed pipeline (or the error)
// and the warnings, as file:line:col: message.
type golden struct {
	Pipeline *pipeline.Pipeline `json:"pipeline,omitempty"`
	Error    []string           `json:"error,omitempty"`
	Warnings []string           `json:"warnings,omitempty"`
}

func render(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	pl, warns, err := Parse(name, data, goldenContext)
	g := golden{Pipeline: pl}
	if err != nil {
		g.Error = strings.Split(err.Error(), "\n")
	}
	for _, w := range warns {
		g.Warnings = append(g.Warnings, w.Error())
	}
	out, jerr := json.MarshalIndent(g, "", "  ")
	if jerr != nil {
		t.Fatal(jerr)
	}
	return append(out, '\n')
}

// TestGolden parses every testdata/*.yml and compares the result with its
// .golden.json; go test -update rewrites them (read the diff).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, name, data)
			want := strings.TrimSuffix(file, ".yml") + ".golden.json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("%s differs from %s (run go test -update and read the diff):\n%s", file, want, got)
			}
		})
	}
}

// TestGoldenHasNoErrors: the golden inputs are valid files; errors are
// tested in TestErrors where the exact message is asserted.
func TestGoldenHasNoErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Parse(filepath.Base(file), data, goldenContext); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
