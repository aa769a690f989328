package gitlab

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/vcs"
)

func TestPredefinedVariables(t *testing.T) {
	in := "stages: [build]\nCompile Job/1:\n  stage: build\n  image: busybox:1.35\n  script: x\n"
	pl := mustParse(t, in, Options{ProjectPath: "My-Group/sub/Proj", Git: gitOn("Feature/Login_2"), Registry: "registry.local:5000"})
	env := pl.Jobs()[0].Steps[0].Env
	for name, want := range map[string]string{
		"CI": "true", "GITLAB_CI": "true", "CI_SERVER": "yes",
		"CI_PROJECT_DIR": "/builds/My-Group/sub/Proj", "CI_BUILDS_DIR": "/builds",
		"CI_PROJECT_PATH": "My-Group/sub/Proj", "CI_PROJECT_NAME": "Proj", "CI_PROJECT_NAMESPACE": "My-Group/sub",
		"CI_PROJECT_PATH_SLUG": "my-group-sub-proj",
		"CI_COMMIT_SHA":        strings.Repeat("ab", 20), "CI_COMMIT_SHORT_SHA": "abababab",
		"CI_COMMIT_BEFORE_SHA": strings.Repeat("cd", 20),
		"CI_COMMIT_REF_NAME":   "Feature/Login_2", "CI_COMMIT_REF_SLUG": "feature-login-2",
		"CI_COMMIT_BRANCH": "Feature/Login_2", "CI_COMMIT_TAG": "<unset>",
		"CI_COMMIT_MESSAGE": "Fix it\n\nBecause.\n", "CI_COMMIT_TITLE": "Fix it", "CI_COMMIT_DESCRIPTION": "Because.\n",
		"CI_COMMIT_TIMESTAMP": "2026-12-02T10:00:00Z", "CI_COMMIT_AUTHOR": "Ada <ada@example.com>",
		"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push", "CI_PIPELINE_ID": "1", "CI_PIPELINE_IID": "1",
		"CI_JOB_ID": "1", "CI_JOB_NAME": "Compile Job/1", "CI_JOB_NAME_SLUG": "compile-job-1", "CI_JOB_STAGE": "build",
		"CI_JOB_IMAGE": "busybox:1.35", "CI_NODE_TOTAL": "1", "CI_NODE_INDEX": "<unset>",
		"CI_REGISTRY": "registry.local:5000", "CI_REGISTRY_IMAGE": "registry.local:5000/my-group/sub/proj",
	} {
		if got := envOf(env, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if svcEnv := mustParse(t, "x:\n  services: [redis]\n  script: y\n", Options{Git: gitOn("main")}).Jobs()[0].Services[0].Env; envOf(svcEnv, "CI_COMMIT_SHA") == "<unset>" {
		t.Error("services get the predefined variables too")
	}
}

func TestPredefinedTagAndPlaceholders(t *testing.T) {
	env := mustParse(t, "x:\n  script: y\n", Options{Git: gitOn("main"), Tag: "v1.0"}).Jobs()[0].Steps[0].Env
	if envOf(env, "CI_COMMIT_TAG") != "v1.0" || envOf(env, "CI_COMMIT_BRANCH") != "<unset>" || envOf(env, "CI_COMMIT_REF_NAME") != "v1.0" {
		t.Errorf("--tag makes a tag pipeline: %v", yamlEnvOnly(env, "CI_COMMIT_"))
	}
	pl, warns, err := Parse("ci.yml", []byte("x:\n  script: y\n"), Options{Git: vcs0("not a git repository")})
	if err != nil || len(warns) != 1 || warns[0].Error() != "ci.yml: not a git repository" {
		t.Fatalf("err %v warnings %v: want the git warning passed on once", err, warns)
	}
	env = pl.Jobs()[0].Steps[0].Env
	if envOf(env, "CI_COMMIT_SHA") != strings.Repeat("0", 40) || envOf(env, "CI_COMMIT_BRANCH") != "main" {
		t.Errorf("placeholders: %v", yamlEnvOnly(env, "CI_COMMIT_"))
	}
}

func TestVariableExpansion(t *testing.T) {
	in := `
variables:
  REG: registry.local:5000
  IMAGE: $REG/team/app
  PRICE: "$$5 for ${CI_PROJECT_NAME}"
  RAW: {value: "$REG and $$", expand: false}
  USES_RAW: "[$RAW]"
  LOOP_A: "a$LOOP_B"
  LOOP_B: "b$LOOP_A"
  UNKNOWN: "x${NOT_SET}y"
job:
  image: $IMAGE:1.0
  services: [{name: "$REG/redis:7", alias: cache}]
  variables: {REG: job.local}
  script: x
late:
  image: $FROM_ENV/busybox
  script: x
`
	pl := mustParse(t, in, Options{ProjectPath: "g/p"})
	j := pl.Jobs()[0]
	env := j.Steps[0].Env
	for name, want := range map[string]string{
		"IMAGE": "job.local/team/app", "PRICE": "$5 for p", "RAW": "$REG and $$",
		"USES_RAW": "[$REG and $$]", "UNKNOWN": "xy", "LOOP_A": "ab", "LOOP_B": "b",
	} {
		if got := envOf(env, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := envOf(env, "CI_JOB_IMAGE"); got != "job.local/team/app:1.0" {
		t.Errorf("CI_JOB_IMAGE = %q, want the image name expanded", got)
	}
	if got := j.Steps[0].Image.Ref; got != "job.local/team/app:1.0" {
		t.Errorf("image %q, want the job's REG in it", got)
	}
	if got := j.Services[0].Image.Ref; got != "job.local/redis:7" {
		t.Errorf("service image %q", got)
	}
	if img := pl.Jobs()[1].Steps[0].Image; img.Ref != "" || img.Name != "$FROM_ENV/busybox" {
		t.Errorf("an image naming an unknown variable is left for the runner: %+v", img)
	}
}

func TestExpandString(t *testing.T) {
	vars := map[string]string{"A": "1", "B_2": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"":         "",
		"$A":       "1",
		"${A}x":    "1x",
		"$Ax":      "",
		"$B_2-$A":  "two-1",
		"$$A":      "$A",
		"$$$A":     "$1",
		"cost: 5$": "cost: 5$",
		"${":       "${",
		"${A":      "${A",
		"${-}":     "${-}",
		"a $ b":    "a $ b",
		"$1":       "",
	} {
		if got := expandString(in, lookup); got != want {
			t.Errorf("expandString(%q) = %q, want %q", in, got, want)
		}
	}
}

func vcs0(warning string) vcsInfo { return vcsInfo{Warning: warning} }

func yamlEnvOnly(env []pipelineEnv, prefix string) []string {
	var out []string
	for _, v := range env {
		if strings.HasPrefix(v.Name, prefix) {
			out = append(out, v.Name+"="+v.Value)
		}
	}
	return out
}

type (
	vcsInfo     = vcs.Info
	pipelineEnv = pipeline.EnvVar
)

// The run's variables (--env above the file's, the configuration's
// environment below) expand references and steer rules, but are not
// copied into the pipeline: the plan adds them.
func TestRunVariablesExpandButStayOut(t *testing.T) {
	in := `
variables: {AUTH: "Bearer $TOKEN", REGION: "$DEFAULT_REGION", DEFAULT_REGION: file}
job:
  image: $REG/app:1
  rules: [{if: $TOKEN == "t0k"}]
  script: x
`
	pl := mustParse(t, in, Options{Env: []string{"TOKEN=t0k", "REG=registry.local", "DEFAULT_REGION=env"}, BaseEnv: []string{"DEFAULT_REGION=config", "bad"}})
	if len(pl.Jobs()) != 1 {
		t.Fatal("the rule sees --env")
	}
	st := pl.Jobs()[0].Steps[0]
	if got := envOf(st.Env, "AUTH"); got != "Bearer t0k" {
		t.Errorf("AUTH = %q", got)
	}
	if got := envOf(st.Env, "REGION"); got != "env" {
		t.Errorf("REGION = %q: --env wins over the file's own DEFAULT_REGION, as it does in the container", got)
	}
	if envOf(st.Env, "TOKEN") != "<unset>" || envOf(st.Env, "REG") != "<unset>" {
		t.Error("--env values were copied into the pipeline")
	}
	if st.Image.Ref != "registry.local/app:1" {
		t.Errorf("image %+v", st.Image)
	}
	env := mustParse(t, "variables: {R: $ONLY_CONFIG}\nj: {script: x}\n", Options{BaseEnv: []string{"ONLY_CONFIG=cfg"}}).Jobs()[0].Steps[0].Env
	if got := envOf(env, "R"); got != "cfg" {
		t.Errorf("R = %q, want the configuration's value when nothing above sets it", got)
	}
}
