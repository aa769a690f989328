package gitlab

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// TestArtifactsFrom: GitLab's rules for whose artifacts a job gets.
func TestArtifactsFrom(t *testing.T) {
	in := `
stages: [build, test, deploy]
bin:
  stage: build
  script: x
  artifacts:
    name: bin
    paths: [out/*.sh, "dist/**"]
    exclude: [out/*.tmp]
    untracked: true
    when: always
    expire_in: 1 week
docs:
  stage: build
  script: x
test:
  stage: test
  script: x
none:
  stage: test
  dependencies: []
  script: x
only-docs:
  stage: deploy
  dependencies: [docs]
  script: x
needs-bin:
  stage: deploy
  needs: [{job: bin, artifacts: false}, test]
  script: x
`
	pl, _, err := Parse("ci.yml", []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range pl.Jobs() {
		got = append(got, j.Name+" <- "+strings.Join(j.ArtifactsFrom, ","))
	}
	want := []string{"bin <- ", "docs <- ", "test <- bin,docs", "none <- ", "only-docs <- docs", "needs-bin <- test"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	a := pl.Jobs()[0].Artifacts
	if a == nil || !slices.Equal(a.Paths, []string{"out/*.sh", "dist/**"}) || !slices.Equal(a.Exclude, []string{"out/*.tmp"}) ||
		!a.Untracked || a.When != pipeline.Always || a.Name != "bin" || a.ExpireIn != "1 week" {
		t.Errorf("artifacts %+v", a)
	}
}

func TestArtifactsErrors(t *testing.T) {
	in := `
a:
  stage: test
  script: x
  artifacts: {paths: ["[x"], when: sometimes}
b:
  stage: test
  dependencies: [a]
  script: x
`
	_, _, err := Parse("ci.yml", []byte(in), Options{})
	for _, want := range []string{
		`ci.yml:5:22: artifacts: paths: "[x" is not a valid glob`,
		`ci.yml:5:36: artifacts: when: expected on_success, on_failure or always, got "sometimes"`,
		`ci.yml:8:3: job b: dependencies: a is not a job of an earlier stage that runs`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
