package gitlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// golden is what a golden file holds: the pipeline (or the errors) and
// the warnings, all positions as file:line:column strings or line/column
// fields, so the files do not depend on where the repository lives.
type golden struct {
	Pipeline *pipeline.Pipeline `json:"pipeline,omitempty"`
	Warnings []string           `json:"warnings,omitempty"`
	Errors   []string           `json:"errors,omitempty"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.yml")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, filepath.Base(f), data)
			want := strings.TrimSuffix(f, ".yml") + ".golden.json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./dialect/gitlab -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("%s differs from the parse result; got:\n%s", want, got)
			}
		})
	}
}

func render(t *testing.T, file string, data []byte) []byte {
	t.Helper()
	pl, warns, err := Parse(file, data, Options{ProjectPath: "group/project"})
	withoutPredefined(pl)
	g := golden{Pipeline: pl}
	for _, w := range warns {
		g.Warnings = append(g.Warnings, w.Error())
	}
	for _, e := range yamlutil.Errors(err) {
		var pe *pipeline.Error
		if !errors.As(e, &pe) {
			t.Errorf("error %v is a %T, not a *pipeline.Error", e, e)
		}
		g.Errors = append(g.Errors, e.Error())
	}
	out, jerr := json.MarshalIndent(g, "", "  ")
	if jerr != nil {
		t.Fatal(jerr)
	}
	return append(out, '\n')
}

// withoutPredefined drops the predefined variables from every
// container's environment: they are the same in every golden file, and
// predefined_test.go checks them.
func withoutPredefined(pl *pipeline.Pipeline) {
	if pl == nil {
		return
	}
	for _, j := range pl.Jobs() {
		j.Variables = yamlEnv(j.Variables)
		for _, st := range j.Steps {
			st.Env = yamlEnv(st.Env)
		}
		for _, svc := range j.Services {
			svc.Env = yamlEnv(svc.Env)
		}
	}
}

// yamlEnv is env without the predefined variables.
func yamlEnv(env []pipeline.EnvVar) []pipeline.EnvVar {
	var out []pipeline.EnvVar
	for _, v := range env {
		if !isPredefined(v.Name) {
			out = append(out, v)
		}
	}
	return out
}
