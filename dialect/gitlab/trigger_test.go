package gitlab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

func parseIn(t *testing.T, dir string) (*pipeline.Pipeline, []*pipeline.Warning, error) {
	t.Helper()
	file := filepath.Join(dir, ".gitlab-ci.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(file, data, Options{Workspace: dir, Git: gitOn("main")})
}

func stagesOf(pl *pipeline.Pipeline) []string {
	var out []string
	for _, st := range pl.Stages {
		var jobs []string
		for _, j := range st.Jobs {
			jobs = append(jobs, j.Name)
		}
		out = append(out, st.Name+": "+strings.Join(jobs, ","))
	}
	return out
}

const triggerParent = `stages: [build, deploy, verify]
variables:
  GLOBAL: g
build: {stage: build, script: echo build}
child:
  stage: deploy
  variables:
    TARGET: prod-$GLOBAL
  trigger:
    include: [{local: ci/child.yml}]
    strategy: depend
loose:
  stage: deploy
  trigger: {include: ci/loose.yml}
other: {stage: deploy, script: echo other}
proj: {stage: deploy, trigger: group/other}
tmpl: {stage: deploy, trigger: {include: [{template: Foo.yml}]}}
verify: {stage: verify, needs: [child], script: echo verify}
`

const triggerChild = `stages: [one, two]
variables:
  TARGET: overridden-by-the-trigger
a: {stage: one, script: echo a}
b: {stage: two, needs: [a], script: echo b}
c:
  stage: two
  rules: [{if: $CI_PIPELINE_SOURCE == "parent_pipeline"}]
  script: echo c
`

// A trigger: include: local child pipeline runs after the trigger job's
// stage, its jobs named after the trigger job, with the trigger's
// variables and CI_PIPELINE_SOURCE parent_pipeline; other triggers are
// skipped with a reason.
func TestTriggerChildPipeline(t *testing.T) {
	dir := workspace(t, map[string]string{".gitlab-ci.yml": triggerParent, "ci/child.yml": triggerChild,
		"ci/loose.yml": "x: {script: exit 1}\n"})
	pl, warns, err := parseIn(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build: build", "deploy: other", "child/one: child/a", "child/two: child/b,child/c", "loose/test: loose/x", "verify: verify"}
	if got := stagesOf(pl); !slices.Equal(got, want) {
		t.Fatalf("stages\n%q\nwant\n%q", got, want)
	}
	jobs := map[string]*pipeline.Job{}
	for _, j := range pl.Jobs() {
		jobs[j.Name] = j
	}
	a := jobs["child/a"]
	if env := a.Steps[0].Env; envOf(env, "TARGET") != "prod-g" || envOf(env, "CI_PIPELINE_SOURCE") != "parent_pipeline" || envOf(env, "CI_JOB_NAME") != "a" {
		t.Errorf("child env: TARGET=%q source=%q job=%q", envOf(env, "TARGET"), envOf(env, "CI_PIPELINE_SOURCE"), envOf(env, "CI_JOB_NAME"))
	}
	if b := jobs["child/b"]; !slices.Equal(b.Needs, []string{"child/a"}) || !b.DAG {
		t.Errorf("child/b needs %q", b.Needs)
	}
	if a.AllowFailure || !jobs["loose/x"].AllowFailure {
		t.Error("strategy: depend makes the child's failures count; without it they do not")
	}
	if v := jobs["verify"]; v.DAG {
		t.Errorf("verify needs the trigger job: it waits for the stages before, child's included; got needs %q", v.Needs)
	}
	all := ""
	for _, w := range warns {
		all += w.Error() + "\n"
	}
	for _, s := range []string{"job proj is skipped: it triggers project group/other", "job tmpl is skipped: its child pipeline comes from include: template",
		"job loose triggers a child pipeline without strategy: depend"} {
		if !strings.Contains(all, s) {
			t.Errorf("warnings lack %q:\n%s", s, all)
		}
	}
}

func TestTriggerChildErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		files map[string]string
		want  string
	}{
		"missing file": {map[string]string{".gitlab-ci.yml": "t: {trigger: {include: ci/none.yml}}\n"}, "include: local file ci/none.yml does not exist"},
		"child error": {map[string]string{".gitlab-ci.yml": "t: {trigger: {include: c.yml}}\n", "c.yml": "x: {stage: nope, script: y}\nstages: [a]\n"},
			`c.yml:1:12: job x: stage "nope" is not defined in stages`},
		"too deep": {map[string]string{".gitlab-ci.yml": "t: {trigger: {include: c.yml}}\n", "c.yml": "t: {trigger: {include: d.yml}}\n",
			"d.yml": "t: {trigger: {include: e.yml}}\n", "e.yml": "x: {script: y}\n"}, "child pipelines nest at most 2 levels deep"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseIn(t, workspace(t, tt.files))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// --include-dir maps include: project, remote and template to local
// files; a project's file includes its own local: files from there.
func TestIncludeDir(t *testing.T) {
	inc := workspace(t, map[string]string{
		"group/shared/ci/base.yml":                   "include: [{local: ci/more.yml}]\n.base: {script: echo base}\n",
		"group/shared/ci/more.yml":                   "from-project: {extends: .base}\n",
		"gitlab.example.com/x/-/raw/main/remote.yml": "from-remote: {script: echo remote}\n",
		"templates/Jobs/T.gitlab-ci.yml":             "from-template: {script: echo template}\n",
	})
	dir := workspace(t, map[string]string{".gitlab-ci.yml": `include:
  - {project: group/shared, file: /ci/base.yml}
  - remote: https://gitlab.example.com/x/-/raw/main/remote.yml
  - template: Jobs/T.gitlab-ci.yml
  - component: gitlab.com/c/d@1
mine: {extends: .base}
`})
	file := filepath.Join(dir, ".gitlab-ci.yml")
	data, _ := os.ReadFile(file)
	pl, warns, err := Parse(file, data, Options{Workspace: dir, IncludeDir: inc})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range pl.Jobs() {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	if want := []string{"from-project", "from-remote", "from-template", "mine"}; !slices.Equal(names, want) {
		t.Errorf("jobs %q, want %q", names, want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), "include: component gitlab.com/c/d@1 is left out") {
		t.Errorf("warnings %v", warns)
	}
	_, _, err = Parse(file, []byte("include: {template: None.yml}\nx: {script: y}\n"), Options{Workspace: dir, IncludeDir: inc})
	if err == nil || !strings.Contains(err.Error(), "include: templates/None.yml does not exist in --include-dir "+inc) {
		t.Errorf("err %v", err)
	}
}

// A manual trigger job makes its child's jobs manual: they run only when
// named.
func TestTriggerManual(t *testing.T) {
	dir := workspace(t, map[string]string{".gitlab-ci.yml": "t: {when: manual, trigger: {include: c.yml}}\n", "c.yml": "x: {script: y}\n"})
	pl, _, err := parseIn(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if j := pl.Jobs(); len(j) != 1 || j[0].Name != "t/x" || j[0].When != pipeline.Manual {
		t.Fatalf("jobs %+v", j)
	}
}
