package e2e

import (
	"strings"
	"testing"
)

// TestGitLabNeeds: a job with needs: starts before its stage, as soon as
// what it needs has finished; needs: [] starts at once; a job without
// needs: waits for every job of the stages before; a failed need skips
// its dependents with the reason.
func TestGitLabNeeds(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, test, deploy]
slow:
  stage: build
  script: [sleep 4, echo slow build done]
fast:
  stage: build
  script: [echo fast build done]
unit:
  stage: test
  needs: [fast]
  script: [echo unit tests after the fast build]
staged:
  stage: test
  script: [echo staged test after every build]
lint:
  stage: deploy
  needs: []
  script: [echo lint at once]
broken:
  stage: test
  needs: [fast]
  script: [exit 3]
ship:
  stage: deploy
  needs: [broken]
  script: [echo shipping]
`)
	r := p.run("exec", "--concurrency", "3")
	wantCode(t, r, 1)
	mustContain(t, r, `Skipping job "ship": it needs broken, and broken failed`)
	mustNotContain(t, r, "shipping\n")
	at := func(s string) int {
		i := strings.Index(r.stdout, s)
		if i < 0 {
			t.Fatalf("output lacks %q:\n%s", s, r)
		}
		return i
	}
	slow := at("slow build done\n")
	if at("unit tests after the fast build\n") > slow || at("lint at once\n") > slow {
		t.Errorf("unit (needs: [fast]) and lint (needs: []) should finish before the slow build:\n%s", r)
	}
	if at("staged test after every build\n") < slow {
		t.Errorf("staged (no needs:) should wait for the slow build:\n%s", r)
	}
}
