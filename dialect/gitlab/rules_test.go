package gitlab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/vcs"
)

// gitOn is a workspace's git facts for a push to branch.
func gitOn(branch string, changed ...string) vcs.Info {
	return vcs.Info{
		Git: true, SHA: strings.Repeat("ab", 20), ShortSHA: "abababab", BeforeSHA: strings.Repeat("cd", 20),
		Branch: branch, DefaultBranch: "main", Message: "Fix it\n\nBecause.\n", Title: "Fix it",
		Timestamp: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), AuthorName: "Ada", AuthorEmail: "ada@example.com",
		Changed: changed, ChangedKnown: true,
	}
}

// plannedJobs lists the jobs that run, "name(when)" for those not on_success.
func plannedJobs(t *testing.T, in string, opts Options) ([]string, []string) {
	t.Helper()
	pl, warns, err := Parse("ci.yml", []byte(in), opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range pl.Jobs() {
		n := j.Name
		if j.When != "" && j.When != pipeline.OnSuccess {
			n += "(" + string(j.When) + ")"
		}
		names = append(names, n)
	}
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.Error())
	}
	return names, ws
}

const rulesFile = `
variables:
  DEPLOY_TO: prod
build:
  script: make
test:
  script: x
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
    - changes: [src/**/*.go]
docs:
  script: x
  rules:
    - changes: ["docs/*"]
      when: manual
release:
  script: x
  rules:
    - if: $CI_COMMIT_TAG
deploy:
  script: x
  rules:
    - if: $CI_COMMIT_BRANCH =~ /^release-/ || $DEPLOY_TO == "staging"
      when: never
    - if: $CI_COMMIT_REF_NAME == "main" && $JOB_VAR == "yes"
      allow_failure: true
  variables: {JOB_VAR: "yes"}
legacy:
  script: x
  only: [main, /^feature-.*$/i]
  except: {variables: [$SKIP_LEGACY]}
tagonly:
  script: x
  only: [tags]
mr:
  script: x
  only: [merge_requests]
nightly:
  script: x
  except: [main]
`

func TestRulesOnDefaultBranch(t *testing.T) {
	got, warns := plannedJobs(t, rulesFile, Options{Git: gitOn("main", "README.md")})
	want := []string{"build", "test", "deploy", "legacy"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
	for _, w := range []string{
		"ci.yml:12:1: job docs does not run for a push to branch main: no rule matches",
		"ci.yml:17:1: job release does not run for a push to branch main: no rule matches",
		"ci.yml:33:1: job tagonly does not run for a push to branch main: only: at line 35 leaves it out",
		"ci.yml:39:1: job nightly does not run for a push to branch main: except: at line 41 leaves it out",
	} {
		if !slices.Contains(warns, w) {
			t.Errorf("missing warning %q in %q", w, warns)
		}
	}
}

func TestRulesOnFeatureBranch(t *testing.T) {
	got, _ := plannedJobs(t, rulesFile, Options{Git: gitOn("FEATURE-x", "src/a/b.go", "docs/x.md")})
	want := []string{"build", "test", "docs(manual)", "legacy", "nightly"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
}

func TestRulesBranchOverrideAndNever(t *testing.T) {
	got, _ := plannedJobs(t, rulesFile, Options{Git: gitOn("main"), Branch: "release-1"})
	// test: not main, no MR, no changed files: left out. deploy: never.
	if want := []string{"build", "nightly"}; !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
}

func TestRulesTagPipeline(t *testing.T) {
	got, _ := plannedJobs(t, rulesFile, Options{Git: gitOn("main"), Tag: "v1.2"})
	// A tag pipeline: changes: is always true (test runs), only: [tags].
	want := []string{"build", "test", "docs(manual)", "release", "tagonly", "nightly"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
}

func TestRulesMergeRequestSource(t *testing.T) {
	got, _ := plannedJobs(t, rulesFile, Options{Git: gitOn("feature"), PipelineSource: "merge_request_event"})
	want := []string{"build", "test", "docs(manual)", "mr", "nightly"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs %v, want %v", got, want)
	}
}

func TestOnlyExceptVariables(t *testing.T) {
	in := "variables: {SKIP_LEGACY: '1'}\n" + rulesFile[strings.Index(rulesFile, "legacy:"):strings.Index(rulesFile, "tagonly:")]
	pl, warns, err := Parse("ci.yml", []byte(in), Options{Git: gitOn("main")})
	if err != nil || len(pl.Jobs()) != 0 {
		t.Fatalf("err %v, jobs %v: want legacy left out by except: variables", err, pl)
	}
	if !slices.ContainsFunc(warns, func(w *pipeline.Warning) bool {
		return strings.Contains(w.Error(), "no job runs for a push to branch main (the warnings above say why)")
	}) {
		t.Errorf("warnings %v should say that no job runs", warns)
	}
}

func TestRuleWhenAllowFailureVariables(t *testing.T) {
	in := `
job:
  image: $IMG
  variables: {IMG: "busybox:1.0", MODE: job}
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
      variables: {IMG: "busybox:1.35", MODE: rule}
man:
  when: manual
  script: x
manrule:
  rules: [{when: manual}]
  script: x
`
	pl, _, err := Parse("ci.yml", []byte(strings.Replace(in, "$IMG\n", "$IMG\n  script: x\n", 1)), Options{Git: gitOn("main")})
	if err != nil {
		t.Fatal(err)
	}
	j := pl.Jobs()[0]
	if j.When != pipeline.Manual || j.AllowFailure {
		t.Errorf("when %q allow_failure %v: a manual job by rules does not allow failure unless it says so", j.When, j.AllowFailure)
	}
	if got := j.Steps[0].Image.Ref; got != "docker.io/library/busybox:1.35" {
		t.Errorf("image %q: the rule's variables win and image names are expanded", got)
	}
	if v := envOf(j.Steps[0].Env, "MODE"); v != "rule" {
		t.Errorf("MODE = %q, want rule", v)
	}
	if !pl.Jobs()[1].AllowFailure || pl.Jobs()[2].AllowFailure {
		t.Errorf("job-level when: manual allows failure (%v); by rules it does not (%v)", pl.Jobs()[1].AllowFailure, pl.Jobs()[2].AllowFailure)
	}
}

func TestRulesExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "Dockerfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := "a:\n  rules: [{exists: ['**/Dockerfile']}]\n  script: x\nb:\n  rules: [{exists: [Makefile]}]\n  script: x\n"
	got, _ := plannedJobs(t, in, Options{Workspace: dir})
	if !slices.Equal(got, []string{"a"}) {
		t.Errorf("jobs %v, want [a]", got)
	}
}

func TestWorkflowRules(t *testing.T) {
	in := `
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == "main"
      variables: {WHERE: main}
job:
  script: echo $WHERE
`
	pl, _, err := Parse("ci.yml", []byte(in), Options{Git: gitOn("main")})
	if err != nil || len(pl.Jobs()) != 1 || envOf(pl.Jobs()[0].Steps[0].Env, "WHERE") != "main" {
		t.Fatalf("on main: err %v, plan %+v", err, pl)
	}
	pl, warns, err := Parse("ci.yml", []byte(in), Options{Git: gitOn("topic")})
	if err != nil || len(pl.Jobs()) != 0 {
		t.Fatalf("on topic: err %v, want no jobs", err)
	}
	want := "ci.yml:2:1: GitLab creates no pipeline for a push to branch topic: workflow: rules: no rule matches"
	if len(warns) != 1 || warns[0].Error() != want {
		t.Errorf("warnings %v, want %q", warns, want)
	}
}

func TestRulesErrors(t *testing.T) {
	wantParseErrors(t, Options{}, map[string]string{
		"a:\n  script: x\n  rules: [{if: '$A = 1'}]\n":          "ci.yml:3:16: if: column 4: unexpected",
		"a:\n  script: x\n  rules: [{if: x}]\n  only: [main]\n": "ci.yml:4:3: job a: only: cannot be used with rules: (line 3)",
		"a:\n  script: x\n  only: ['/(/']\n":                    "ci.yml:3:10: only: /(/: invalid regular expression",
		"a:\n  script: x\n  except: {variables: ['$A ==']}\n":   "ci.yml:3:24: except: variables: column 6",
		"a:\n  script: x\n  only: {refs: [main], bogus: 1}\n":   "ci.yml:3:24: only: unknown key bogus",
		"a:\n  script: x\n  rules: [x]\n":                       "ci.yml:3:11: rules: expected a rule",
		"a:\n  script: x\n  rules: [{when: sometimes}]\n":       `ci.yml:3:18: rules: when: expected on_success, on_failure, always, manual, delayed or never, got "sometimes"`,
	})
}

func envOf(env []pipeline.EnvVar, name string) string {
	for _, v := range env {
		if v.Name == name {
			return v.Value
		}
	}
	return "<unset>"
}
