package drone

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
)

// goldenContext is a push to main, the context the golden files' when:
// and trigger: conditions are matched against, on a linux/amd64 engine.
var goldenContext = Context{
	Branch: "main", Event: "push", Ref: "refs/heads/main", Repo: "group/project",
	Commit: "0123456789abcdef0123456789abcdef01234567", Message: "fix: it\n\nwith a body",
	Author: "octocat", AuthorName: "The Octocat", AuthorEmail: "octocat@example.com",
	BuildNumber: 42, OS: "linux", Arch: "amd64", Hostname: "ci-host",
	Started: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC),
}

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
	if !strings.HasPrefix(name, "environ") {
		hideBuiltins(pl)
	}
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

// hideBuiltins drops Drone's own variables from the steps and services,
// which would repeat the same forty lines in every golden file; the
// environ*.yml files keep them.
func hideBuiltins(pl *pipeline.Pipeline) {
	if pl == nil {
		return
	}
	builtin := func(e pipeline.EnvVar) bool {
		_, ok := builtinNames[e.Name]
		return ok && e.FromSecret == ""
	}
	for _, j := range pl.Jobs() {
		for _, s := range j.Steps {
			s.Env = slices.DeleteFunc(s.Env, builtin)
		}
		for _, s := range j.Services {
			s.Env = slices.DeleteFunc(s.Env, builtin)
		}
	}
}

var builtinNames = func() map[string]bool {
	p := &parser{ctx: Context{Event: "pull_request", OS: "linux", Arch: "amd64", Started: time.Now()}}
	env := p.stageEnv(&jobDoc{job: &pipeline.Job{}})
	names := map[string]bool{"DRONE_STEP_NAME": true, "DRONE_STEP_NUMBER": true}
	for name := range env {
		names[name] = true
	}
	return names
}()

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

// TestConditionsCanLeaveNothingToRun: when trigger: or every step's when:
// leaves a pipeline out, it is not run, and a file may then have nothing
// to run in this context; that is not an error.
func TestConditionsCanLeaveNothingToRun(t *testing.T) {
	in := `kind: pipeline
name: by-trigger
trigger: {branch: prod}
steps: [{name: s, image: alpine, commands: [x]}]
---
kind: pipeline
name: by-steps
steps: [{name: s, image: alpine, commands: [x], when: {event: tag}}]
`
	pl, warns, err := Parse("t.yml", []byte(in), goldenContext)
	if err != nil || len(pl.Jobs()) != 0 {
		t.Fatalf("jobs %v, err %v", pl, err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.Error())
	}
	want := []string{
		`t.yml:3:1: pipeline "by-trigger" is skipped: trigger.branch does not match branch "main"`,
		`t.yml:6:1: pipeline "by-steps" is skipped: when: leaves out every step`,
		`t.yml:8:9: step "s" is skipped: when.event does not match event "push"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMatrixIncludeMayRepeatACombination: Drone runs each entry of an
// include: list, so a repeated one becomes a second pipeline.
func TestMatrixIncludeMayRepeatACombination(t *testing.T) {
	in := "matrix:\n  include: [{A: 1}, {A: 1}, {A: 2}]\npipeline:\n  a:\n    image: alpine:${A}\n"
	pl, _, err := Parse("t.yml", []byte(in), goldenContext)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range pl.Jobs() {
		got = append(got, j.Name+" "+j.Steps[0].Image.Name)
	}
	if strings.Join(got, ", ") != "A=1 alpine:1, A=1 #2 alpine:1, A=2 alpine:2" {
		t.Errorf("jobs: %s", strings.Join(got, ", "))
	}
}
