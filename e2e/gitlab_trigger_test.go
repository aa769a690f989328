package e2e

import (
	"strings"
	"testing"
)

// TestGitLabTriggerChildPipeline: a trigger: include: local child pipeline
// runs on Docker after the trigger job's stage, with the trigger's
// variables and CI_PIPELINE_SOURCE parent_pipeline; with strategy: depend
// its failure fails the pipeline and skips the later stages; a trigger of
// another project is skipped with a reason.
func TestGitLabTriggerChildPipeline(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, deploy, verify]
variables:
  GLOBAL: g
build:
  stage: build
  script: [echo parent build]
deploy-child:
  stage: deploy
  variables:
    TARGET: prod-$GLOBAL
  trigger:
    include: ci/child.yml
    strategy: depend
downstream:
  stage: deploy
  trigger: group/other
verify:
  stage: verify
  script: [echo parent verify]
`, "ci/child.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [one, two]
first:
  stage: one
  script: ['echo "child first target=$TARGET source=$CI_PIPELINE_SOURCE"']
second:
  stage: two
  script: ['echo child second; exit ${CHILD_EXIT:-0}']
`)
	r := p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, "stage deploy-child/one\n", "job deploy-child/first", "job deploy-child/second",
		"job downstream is skipped: it triggers project group/other")

	r = p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "child first target=prod-g source=parent_pipeline\n", "child second\n", "parent verify\n")
	at := func(s string) int { return strings.Index(r.stdout, s) }
	if !(at("parent build\n") < at("child first") && at("child first") < at("child second\n") && at("child second\n") < at("parent verify\n")) {
		t.Errorf("want build, the child's stages, then verify:\n%s", r)
	}

	r = p.run("exec", "--env", "CHILD_EXIT=3")
	wantCode(t, r, 1)
	mustContain(t, r, "child second\n")
	mustNotContain(t, r, "parent verify\n")
}
