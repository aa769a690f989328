package gitlab

import (
	"slices"
	"strings"
	"testing"
)

func TestParallel(t *testing.T) {
	in := `
three:
  parallel: 3
  script: x
matrix:
  parallel:
    matrix:
      - PROVIDER: aws
        STACK: [monitoring, app1]
      - PROVIDER: [gcp, vultr]
        STACK: data
  rules:
    - if: $PROVIDER == "vultr"
      when: never
    - when: on_success
  script: x
`
	pl := mustParse(t, in, Options{})
	var got []string
	for _, j := range pl.Jobs() {
		env := j.Steps[0].Env
		got = append(got, j.Name+" "+envOf(env, "CI_NODE_INDEX")+"/"+envOf(env, "CI_NODE_TOTAL")+" "+envOf(env, "CI_JOB_NAME")+" "+envOf(env, "STACK"))
	}
	want := []string{
		"three 1/3 1/3 three 1/3 <unset>",
		"three 2/3 2/3 three 2/3 <unset>",
		"three 3/3 3/3 three 3/3 <unset>",
		"matrix: [aws, monitoring] 1/4 matrix: [aws, monitoring] monitoring",
		"matrix: [aws, app1] 2/4 matrix: [aws, app1] app1",
		"matrix: [gcp, data] 3/4 matrix: [gcp, data] data",
	}
	if !slices.Equal(got, want) {
		t.Errorf("jobs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParallelErrors(t *testing.T) {
	wantParseErrors(t, Options{}, map[string]string{
		"a:\n  parallel: 0\n  script: x\n":                            "ci.yml:2:13: parallel: expected a number from 1 to 200, got 0",
		"a:\n  parallel: 201\n  script: x\n":                          "parallel: expected a number from 1 to 200",
		"a:\n  parallel: {matrix: []}\n  script: x\n":                 "parallel: matrix: expected a list of maps",
		"a:\n  parallel: {matrix: [{A: [1, {b: c}]}]}\n  script: x\n": "parallel: matrix: expected a value or a list of values",
		"a:\n  parallel: {count: 2}\n  script: x\n":                   "parallel: unknown key count",
		"a:\n  parallel: {matrix: [{A: [" + strings.Repeat("1,", 20) + "1], B: [" + strings.Repeat("1,", 10) + "1]}]}\n  script: x\n": "parallel: matrix makes more than 200 jobs",
	})
}
