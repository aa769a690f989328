package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitLabJobRunsScriptInItsImage(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  GREETING: hello
  OVERRIDDEN: global
test:
  image: busybox:1.35
  variables:
    OVERRIDDEN: job
  script:
    - echo "$GREETING from $(pwd)"
    - echo "override=$OVERRIDDEN shell=${BASH_VERSION:-sh}"
    - cat README
`, "README", "the checkout\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r,
		`$ echo "$GREETING from $(pwd)"`,
		"hello from /builds/group/project\n",
		"override=job shell=sh\n",
		"the checkout\n",
		`Job "test" passed`)
}

func TestGitLabUsesBashWhenTheImageHasIt(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: debian:bookworm
  script:
    - echo "shell=${BASH_VERSION:+bash}"
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "shell=bash\n")
}

func TestGitLabFailedStageStopsLaterStagesAndAfterScriptRuns(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
stages: [build, test]
build:
  stage: build
  image: busybox:1.35
  script:
    - echo building
    - exit 3
    - echo never
  after_script:
    - echo "cleaning up after build"
test:
  stage: test
  image: busybox:1.35
  script: [echo testing]
`)
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, "building\n", "cleaning up after build\n", `Job "build" failed`, "exited with code 3")
	mustNotContain(t, r, "never\n", "testing\n")
}

func TestGitLabAfterScriptFailureKeepsSuccess(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  script: [echo ok]
  after_script: [exit 4]
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, `Job "test" passed`)
}

func TestGitLabRunsOnlyNamedJobs(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
a:
  image: busybox:1.35
  script: [echo job-a]
b:
  image: busybox:1.35
  script: [echo job-b]
`)
	r := p.run("exec", "b")
	wantCode(t, r, 0)
	mustContain(t, r, "job-b\n")
	mustNotContain(t, r, "job-a\n")
	r = p.run("exec", "nope")
	wantCode(t, r, 2)
	mustContain(t, r, "no job named nope")
}

func TestGitLabJobCannotChangeTheUsersFiles(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  script:
    - echo changed > file.txt
    - rm -f other.txt
    - cat file.txt
`, "file.txt", "original\n", "other.txt", "keep\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "changed\n")
	for name, want := range map[string]string{"file.txt": "original\n", "other.txt": "keep\n"} {
		b, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s is %q (%v), want %q", name, b, err, want)
		}
	}
}

func TestGitLabEntrypointOverride(t *testing.T) {
	// The test image's entrypoint fails whatever it is given: the job
	// passes only if [""] really clears it. A custom entrypoint wraps the
	// job's shell.
	p := newProject(t, ".gitlab-ci.yml", `
cleared:
  image:
    name: `+failingEntrypointImage+`
    entrypoint: [""]
  script:
    - echo cleared-ok
kept:
  image: `+failingEntrypointImage+`
  script:
    - echo never
custom:
  image:
    name: busybox:1.35
    entrypoint: ["env", "FROM_ENTRYPOINT=yes"]
  script:
    - echo "entry=$FROM_ENTRYPOINT"
`)
	r := p.run("exec", "cleared", "custom")
	wantCode(t, r, 0)
	mustContain(t, r, "cleared-ok\n", "entry=yes\n")
	r = p.run("exec", "kept")
	wantCode(t, r, 1)
	mustNotContain(t, r, "never\n")
}

func TestGitLabRedisAndPostgresServices(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  POSTGRES_PASSWORD: secret
  POSTGRES_DB: app
test:
  image: debian:bookworm
  services:
    - redis:7.0
    - name: postgres:15
      alias: db
  script:
    - redis-cli -h redis set key value
    - redis-cli -h redis get key
    - PGPASSWORD=secret psql -h db -U postgres -d app -tAc "select 40 + 2"
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "value\n", "42\n", `Job "test" passed`)
	mustNotContain(t, r, "WARNING")
}

func TestLintPrintsThePlanAndRunsNothing(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  DOCKER_AUTH_CONFIG: '{"auths":{"r.example.com":{"auth":"dXNlcjpodW50ZXIy"}}}'
build:
  stage: build
  image: busybox:1.35
  services: [redis:7.0]
  script: [make]
`)
	r := p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, "stage build", "job build", "docker.io/library/busybox:1.35", "service redis", "make")
	mustNotContain(t, r, "dXNlcjpodW50ZXIy", "hunter2")
}

func TestInvalidInputExitsTwoWithPosition(t *testing.T) {
	for name, tc := range map[string]struct{ yml, want string }{
		"malformed":  {"test:\n  script: [echo\n", ".gitlab-ci.yml:"},
		"no script":  {"test:\n  image: busybox:1.35\n", ".gitlab-ci.yml:1:1: job test: script is required"},
		"bad image":  {"test:\n  image: BusyBox:1.35\n  script: [echo ok]\n", ".gitlab-ci.yml:2:"},
		"wrong type": {"test:\n  image: busybox:1.35\n  script: {a: b}\n", ".gitlab-ci.yml:3:"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProject(t, ".gitlab-ci.yml", tc.yml)
			for _, cmd := range []string{"exec", "lint"} {
				r := p.run(cmd)
				wantCode(t, r, 2)
				if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "goroutine") {
					t.Errorf("%s: stderr %q lacks %q", cmd, r.stderr, tc.want)
				}
				if strings.Contains(r.stdout, "Running job") {
					t.Errorf("%s started a job on invalid input", cmd)
				}
			}
		})
	}
}

func TestEngineUnreachableExitsTwo(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", "test:\n  image: busybox:1.35\n  script: [echo ok]\n")
	commitAll(t, p.dir, "test") // a git checkout: no warning about placeholder commit variables
	pr := p.startEnv([]string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "exec")
	r := pr.wait()
	wantCode(t, r, 2)
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 || !strings.Contains(r.stderr, "cannot reach the Docker Engine") {
		t.Errorf("want one line naming the engine, got %q", r.stderr)
	}
}
