package e2e

import (
	"runtime"
	"strings"
	"testing"
)

// TestGitLabRuleNeeds: on the default branch the rule's needs: [fast]
// replaces the job's needs: [slow], so deploy starts before the slow
// build ends; on another branch the job's own needs: hold.
func TestGitLabRuleNeeds(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, deploy]
slow:
  stage: build
  script: [sleep 4, echo slow build done]
fast:
  stage: build
  script: [echo fast build done]
deploy:
  stage: deploy
  needs: [slow]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      needs: [fast]
    - when: on_success
  script: [echo deploying]
`)
	commitAll(t, p.dir, "pipeline")
	order := func(r result) (slow, deploy int) {
		t.Helper()
		slow, deploy = strings.Index(r.stdout, "slow build done\n"), strings.Index(r.stdout, "deploying\n")
		if slow < 0 || deploy < 0 {
			t.Fatalf("output lacks a job's line:\n%s", r)
		}
		return slow, deploy
	}
	r := p.run("exec", "--concurrency", "3")
	wantCode(t, r, 0)
	if slow, deploy := order(r); deploy > slow {
		t.Errorf("on main deploy needs only fast and should finish before the slow build:\n%s", r)
	}
	r = p.run("exec", "--concurrency", "3", "--branch", "dev")
	wantCode(t, r, 0)
	if slow, deploy := order(r); deploy < slow {
		t.Errorf("on dev deploy needs slow and should wait for it:\n%s", r)
	}
}

// TestGitLabIncludeDir: without --include-dir an include: of another
// project is left out with a warning naming the flag; with it the file is
// read from DIR/<project>/<file> and its jobs run.
func TestGitLabIncludeDir(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
include:
  - project: group/shared
    file: /ci/jobs.yml
local: {image: "busybox:1.35", script: [echo local job]}
`, "../../inc/group/shared/ci/jobs.yml", `shared: {image: "busybox:1.35", script: [echo shared job]}`)
	r := p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, "include: file /ci/jobs.yml is left out", "--include-dir DIR reads it from DIR/group/shared/<file>")
	mustNotContain(t, r, "job shared")
	r = p.run("exec", "--include-dir", "../../inc")
	wantCode(t, r, 0)
	mustContain(t, r, "shared job\n", "local job\n")
}

// TestGitLabRunnerVariables: CI_RUNNER_* describe slipway and the
// configuration's runner; CI_REGISTRY and CI_REGISTRY_IMAGE come from the
// configuration's registry key.
func TestGitLabRunnerVariables(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
show:
  image: {name: busybox:1.35, pull_policy: if-not-present}
  tags: [docker]
  script:
    - echo "runner=$CI_RUNNER_ID/$CI_RUNNER_DESCRIPTION tags=$CI_RUNNER_TAGS arch=$CI_RUNNER_EXECUTABLE_ARCH version=${CI_RUNNER_VERSION:+set}"
    - echo "registry=$CI_REGISTRY image=$CI_REGISTRY_IMAGE api=$CI_API_V4_URL"
`, "config.toml", "[[runners]]\nname = \"box-1\"\nregistry = \"registry.example.com:5000\"\ntags = [\"docker\", \"linux\"]\n")
	r := p.run("exec", "--config", "config.toml")
	wantCode(t, r, 0)
	mustContain(t, r, "runner=1/box-1 tags=docker, linux arch=linux/"+runtime.GOARCH+" version=set\n",
		"registry=registry.example.com:5000 image=registry.example.com:5000/group/project api=http://localhost/api/v4\n")
}
