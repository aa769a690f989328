package gitlab

import (
	"slices"
	"strings"
	"testing"
)

func TestNeeds(t *testing.T) {
	in := `
stages: [build, test]
unit:
  stage: test
  needs: [lint, {job: compile}, {job: docs, optional: true}, {pipeline: other}]
  script: x
lint:
  stage: test
  needs: []
  script: x
compile:
  stage: build
  parallel: {matrix: [{OS: [linux, mac]}]}
  script: x
mac-only:
  stage: test
  needs: ["compile: [mac]"]
  script: x
plain:
  stage: test
  script: x
`
	pl, warns, err := Parse("ci.yml", []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range pl.Jobs() {
		needs := "<stage order>"
		if j.DAG {
			needs = "[" + strings.Join(j.Needs, "; ") + "]"
		}
		got = append(got, j.Name+" "+needs)
	}
	// lint moves before unit, which needs it in the same stage.
	want := []string{
		"compile: [linux] <stage order>", "compile: [mac] <stage order>",
		"lint []", "unit [lint; compile: [linux]; compile: [mac]]", "mac-only [compile: [mac]]", "plain <stage order>",
	}
	if !slices.Equal(got, want) {
		t.Errorf("jobs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), "ci.yml:5:63: needs: pipeline: a need on another pipeline or project is left out") {
		t.Errorf("warnings %v", warns)
	}
}

func TestNeedsErrors(t *testing.T) {
	wantParseErrors(t, Options{Git: gitOn("main")}, map[string]string{
		"a: {script: x, needs: [b]}\n": "ci.yml:1:24: job a needs b, which is not a job of this pipeline",
		"a: {script: x, needs: [b]}\nb: {script: x, rules: [{if: $CI_COMMIT_TAG}]}\n": "ci.yml:1:24: job a needs b, which does not run for a push to branch main (mark the need optional: true)",
		"a: {stage: build, script: x, needs: [b]}\nb: {stage: test, script: x}\n":     "ci.yml:1:38: job a needs b, which is in a later stage",
		"a: {script: x, needs: [b]}\nb: {script: x, needs: [a]}\n":                    "ci.yml:1:1: needs: the jobs of one stage need each other in a cycle ([a b])",
		"a: {script: x, needs: b}\n":                                                  "ci.yml:1:23: needs: expected a list of jobs, got a string",
		"a: {script: x, needs: [{optional: true}]}\n":                                 "needs: job: is required",
	})
}
