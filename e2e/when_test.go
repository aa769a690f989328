package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGitLabWhen: after a failed stage only on_failure and always jobs
// run; a manual job runs only when named.
func TestGitLabWhen(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
stages: [build, test, cleanup]
build:
  stage: build
  image: busybox:1.35
  script: [echo building, exit 1]
test:
  stage: test
  image: busybox:1.35
  script: [echo testing]
report:
  stage: cleanup
  image: busybox:1.35
  script: [echo reporting the failure]
  when: on_failure
cleanup:
  stage: cleanup
  image: busybox:1.35
  script: [echo cleaning up]
  when: always
deploy:
  stage: cleanup
  image: busybox:1.35
  script: [echo deploying]
  when: manual
`)
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, "building\n", "reporting the failure\n", "cleaning up\n",
		`Skipping job "deploy": manual job: run it by naming it (slipway exec deploy)`)
	mustNotContain(t, r, "testing\n", "deploying\n")

	r = p.run("exec", "deploy")
	wantCode(t, r, 0)
	mustContain(t, r, "deploying\n")
}

// TestDroneConditions: a step's when: and a pipeline's trigger: are
// matched against the branch checked out in the workspace (or --branch)
// and --event; status: failure steps run only after a failure.
func TestDroneConditions(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: build
steps:
- name: pull-requests
  image: busybox:1.35
  commands: [echo pull request]
  when:
    event: pull_request
- name: test
  image: busybox:1.35
  commands: [echo testing, exit 1]
- name: main-only
  image: busybox:1.35
  commands: [echo on main]
  when:
    branch: [main]
- name: notify
  image: busybox:1.35
  commands: [echo notifying about the failure]
  when:
    status: [failure]
    branch: [main, feature/*]
---
kind: pipeline
name: release
trigger:
  branch: [release/*]
steps:
- name: publish
  image: busybox:1.35
  commands: [echo publishing]
`)
	// The workspace is a checkout of main.
	if err := os.MkdirAll(filepath.Join(p.dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.write(".git/HEAD", "ref: refs/heads/main\n")
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, "testing\n", "notifying about the failure\n",
		`step "pull-requests" is skipped: when.event does not match event "push"`,
		`pipeline "release" is skipped: trigger.branch does not match branch "main"`)
	mustNotContain(t, r, "on main\n", "pull request\n", "publishing\n")

	r = p.run("exec", "--branch", "release/1.0", "--event", "pull_request")
	wantCode(t, r, 1)
	mustContain(t, r, "pull request\n", "publishing\n",
		`step "main-only" is skipped: when.branch does not match branch "release/1.0"`,
		`step "notify" is skipped: when.branch does not match branch "release/1.0"`)
	mustNotContain(t, r, "notifying about the failure\n")
}
