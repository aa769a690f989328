package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// commitAll makes p's directory a git repository on branch main with
// everything in it committed, and returns the commit id.
func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestGitLabRulesAndPredefinedVariables: the commit's facts reach the
// job as GitLab's predefined variables, variables expand in image names,
// and rules: decide per branch which jobs run.
func TestGitLabRulesAndPredefinedVariables(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  IMG: busybox:1.35
show:
  image: $IMG
  script:
    - echo "sha=$CI_COMMIT_SHA short=$CI_COMMIT_SHORT_SHA branch=$CI_COMMIT_BRANCH slug=$CI_COMMIT_REF_SLUG"
    - echo "project=$CI_PROJECT_PATH dir=$CI_PROJECT_DIR pwd=$(pwd) title=$CI_COMMIT_TITLE job=$CI_JOB_NAME stage=$CI_JOB_STAGE"
deploy:
  image: busybox:1.35
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script: [echo deploying]
`)
	sha := commitAll(t, p.dir, "Add the pipeline\n\nwith a body\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "sha="+sha+" short="+sha[:8]+" branch=main slug=main\n",
		"project=group/project dir=/builds/group/project pwd=/builds/group/project title=Add the pipeline job=show stage=test\n",
		"deploying\n")

	r = p.run("exec", "--branch", "Feature/X")
	wantCode(t, r, 0)
	mustContain(t, r, "branch=Feature/X slug=feature-x\n",
		"job deploy does not run for a push to branch Feature/X: no rule matches")
	mustNotContain(t, r, "deploying\n")
}

// TestGitLabWorkflowRulesMakeNoPipeline: a pipeline workflow: rules
// refuse is not an error: slipway says why and exits 0.
func TestGitLabWorkflowRulesMakeNoPipeline(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
workflow:
  rules: [{if: $CI_PIPELINE_SOURCE == "merge_request_event"}]
test: {image: "busybox:1.35", script: [echo testing]}
`)
	for _, cmd := range []string{"lint", "exec"} {
		r := p.run(cmd)
		wantCode(t, r, 0)
		mustContain(t, r, "GitLab creates no pipeline for a push to branch main: workflow: rules: no rule matches")
		mustNotContain(t, r, "testing\n")
	}
	r := p.run("exec", "--pipeline-source", "merge_request_event")
	wantCode(t, r, 0)
	mustContain(t, r, "testing\n")
}

// TestGitLabJobWithoutImage: lint plans a job with no image, with a
// warning; exec refuses it before anything starts unless --default-image
// gives one.
func TestGitLabJobWithoutImage(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", "test:\n  script: [echo no image needed]\n")
	r := p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, "job test", "warning: ", "job test has no image")

	r = p.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r, "job test has no image, and no default image is set: give --default-image IMAGE")
	if strings.Contains(r.stdout, "Running job") {
		t.Error("exec started a job it could not give an image")
	}

	r = p.run("exec", "--default-image", "busybox:1.35")
	wantCode(t, r, 0)
	mustContain(t, r, "no image needed\n")
}

// TestGitLabIncludeLocal: jobs and templates come from included files.
func TestGitLabIncludeLocal(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", "include: ci/*.yml\ntest:\n  extends: .base\n  script: [echo included $FROM]\n",
		"ci/base.yml", ".base:\n  image: busybox:1.35\n  variables: {FROM: base.yml}\n")
	if _, err := os.Stat(filepath.Join(p.dir, "ci", "base.yml")); err != nil {
		t.Fatal(err)
	}
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "included base.yml\n")
}

// TestGitLabDuplicateJobKeepsTheLast: as GitLab (a Ruby Hash), the last
// of two jobs of one name runs, and a warning names both lines.
func TestGitLabDuplicateJobKeepsTheLast(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", "test:\n  image: busybox:1.35\n  script: [echo a]\ntest:\n  image: busybox:1.35\n  script: [echo b]\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, ".gitlab-ci.yml:4:1: test is also written at line 1; as in GitLab, this later one is used", "b\n")
	mustNotContain(t, r, "$ echo a")
}

// TestGitLabTagsLeaveOutOtherRunnersJobs: a job for a macOS runner is
// left out with a line that says why; the configuration's tags decide
// when it has them.
func TestGitLabTagsLeaveOutOtherRunnersJobs(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
linux: {image: "busybox:1.35", tags: [docker], script: [echo on linux]}
mac: {image: "busybox:1.35", tags: [saas-macos-medium-m1], script: [echo on mac]}
`, "runner.toml", "[[runners]]\n  tags = [\"gpu\"]\n  run_untagged = true\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "on linux\n", "job mac is left out: its tags (saas-macos-medium-m1) ask for a runner on darwin")
	mustNotContain(t, r, "on mac\n")

	r = p.run("lint", "--config", filepath.Join(p.dir, "runner.toml"))
	wantCode(t, r, 0)
	mustContain(t, r, "job linux is left out: its tags (docker) are not all among the runner configuration's tags (gpu)")
}

// TestGitLabParallelMatrix: parallel: matrix runs one job per
// combination, named as GitLab names them, each with its variables.
func TestGitLabParallelMatrix(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  parallel:
    matrix:
      - DB: [redis, postgres]
  script: [echo "node $CI_NODE_INDEX/$CI_NODE_TOTAL db=$DB name=$CI_JOB_NAME"]
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, `Running job "test: [redis]"`, "node 1/2 db=redis name=test: [redis]\n",
		`Running job "test: [postgres]"`, "node 2/2 db=postgres name=test: [postgres]\n")
}
