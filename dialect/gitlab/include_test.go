package gitlab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// workspace writes files (path → content) into a temporary directory.
func workspace(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludeLocal(t *testing.T) {
	dir := workspace(t, map[string]string{
		".gitlab-ci.yml": `
include:
  - local: /ci/base.yml
  - ci/jobs/*.yml
variables: {WHO: main}
lint:
  script: [override]
`,
		"ci/base.yml":    "include: {local: ci/nested.yaml}\nvariables: {WHO: base, BASE: 'yes'}\n.tmpl: {image: 'busybox:1.35'}\n",
		"ci/nested.yaml": "stages: [check, test]\n",
		"ci/jobs/a.yml":  "lint:\n  stage: check\n  extends: .tmpl\n  script: [lint]\n",
		"ci/jobs/b.yml":  "unit:\n  extends: .tmpl\n  script: [unit]\n",
		"ci/jobs/c.txt":  "not: yaml\n",
	})
	file := filepath.Join(dir, ".gitlab-ci.yml")
	data, _ := os.ReadFile(file)
	pl, warns, err := Parse(file, data, Options{})
	if err != nil {
		t.Fatalf("%v (warnings %v)", err, warns)
	}
	var got []string
	for _, j := range pl.Jobs() {
		got = append(got, j.Name+":"+strings.Join(j.Steps[0].Commands, ",")+":"+j.Steps[0].Image.Name+":"+envOf(j.Steps[0].Env, "WHO")+envOf(j.Steps[0].Env, "BASE"))
	}
	// lint keeps its stage and template from a.yml, its script from the
	// main file; the main file's WHO wins over base.yml's.
	want := []string{"lint:override:busybox:1.35:mainyes", "unit:unit:busybox:1.35:mainyes"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
}

func TestIncludeProblems(t *testing.T) {
	dir := workspace(t, map[string]string{
		"bad.yml": "job:\n  script: x\n  image: [1]\n",
		"ok.yml":  ".t: {script: x}\n",
	})
	wantParseErrors(t, Options{Workspace: dir}, map[string]string{
		"include: missing.yml\nj: {script: x}\n":                     "ci.yml:1:10: include: local file missing.yml does not exist in the workspace " + dir,
		"include: ../etc/passwd.yml\nj: {script: x}\n":               "ci.yml:1:10: include: local ../etc/passwd.yml is not a file inside the workspace",
		"include: 'nothing/*.yml'\nj: {script: x}\n":                 "ci.yml:1:10: include: local nothing/*.yml matches no file",
		"include: bad.yml\n":                                         filepath.Join(dir, "bad.yml") + ":3:10: image: expected a string or a map with name",
		"include: [{project: x/y}]\nj: {script: x}\n":                "include: expected one of local, file, remote, template or component",
		"include: [{remote: 'https://x/y.yml'}]\nj: {extends: .t}\n": `ci.yml:2:14: extends: no job or template named ".t" (it may come from the include: at line 1, which was left out)`,
	})
}

func TestIncludeSkippedKinds(t *testing.T) {
	dir := workspace(t, map[string]string{"own.yml": "own: {script: x}\n"})
	in := `include:
  - remote: https://example.com/ci.yml
  - template: Security/SAST.gitlab-ci.yml
  - project: other/proj
    file: [/a.yml]
  - project: g/p
    file: /own.yml
  - component: gitlab.com/x/y@1.0
  - local: own.yml
    rules: [{if: $CI_COMMIT_BRANCH == "nope"}]
j: {script: x}
`
	pl, warns, err := Parse("ci.yml", []byte(in), Options{Workspace: dir, ProjectPath: "g/p"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pl.Jobs()); n != 2 {
		t.Errorf("%d jobs, want own (this project's file) and j", n)
	}
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.Error())
	}
	want := []string{
		"ci.yml:2:5: include: remote https://example.com/ci.yml is left out: slipway fetches nothing over the network (--include-dir DIR reads it from DIR/<host>/<path>); jobs and templates it defines are missing",
		"ci.yml:3:5: include: template Security/SAST.gitlab-ci.yml is left out: GitLab's templates come with GitLab, not with the project (--include-dir DIR reads it from DIR/templates/<name>); jobs and templates it defines are missing",
		"ci.yml:4:5: include: file /a.yml is left out: project other/proj is another repository, which a local run does not have (--include-dir DIR reads it from DIR/other/proj/<file>); jobs and templates it defines are missing",
		"ci.yml:8:5: include: component gitlab.com/x/y@1.0 is left out: CI/CD components are fetched from a GitLab instance; jobs and templates it defines are missing",
	}
	if !slices.Equal(ws, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(ws, "\n"), strings.Join(want, "\n"))
	}
}
