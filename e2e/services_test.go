package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServiceThatNeverListensWarnsWithItsLog(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services: [`+deafServiceImage+`]
  script: [echo job-ran]
`, "config.toml", "[[runners]]\n[runners.docker]\nwait_for_services_timeout = 2\n")
	start := time.Now()
	r := p.run("exec", "--config", "config.toml")
	wantCode(t, r, 0)
	mustContain(t, r,
		"*** WARNING: Service slipway-test__deaf-service probably didn't start properly.",
		"port 9999 did not accept connections within 2s",
		"not listening on 9999",
		"job-ran\n")
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestServiceThatDiesMidJobIsReported(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services:
    - name: redis:7.0
      entrypoint: ["sh", "-c", "redis-server --port 6379 & sleep 2; echo going away; exit 9"]
  script: [sleep 5, echo job-ran]
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "*** WARNING: Service redis stopped while the job ran.", "exited with code 9", "going away", "job-ran\n")
	if strings.Index(r.stdout, "stopped while the job ran") > strings.Index(r.stdout, "job-ran\n") {
		t.Errorf("the service's death was reported only after the job's end:\n%s", r)
	}
	mustNotContain(t, r, "probably didn't start properly")
}

func TestServiceThatCrashesIsReportedAtOnce(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services:
    - name: redis:7.0
      command: ["sh", "-c", "echo cannot start: bad config; exit 7"]
  script: [echo job-ran]
`)
	start := time.Now()
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "*** WARNING: Service redis probably didn't start properly.",
		"exited with code 7", "cannot start: bad config", "job-ran\n")
	// The default timeout is 30 s: an exited service must not wait for it.
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("took %s: the crash was not noticed before the timeout", d)
	}
}

func TestServiceLogsFlag(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: debian:bookworm
  services: [redis:7.0]
  script: [redis-cli -h redis ping]
`)
	r := p.run("exec", "--service-logs")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "[test/redis] ") || !strings.Contains(r.stdout, "Ready to accept connections") {
		t.Errorf("service log not shown:\n%s", r)
	}
	r = p.run("exec")
	wantCode(t, r, 0)
	mustNotContain(t, r, "Ready to accept connections")
}

func TestGitLabDefaultAliasesAndTwoServicesFromOneImage(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services:
    - name: tutum/wordpress:latest
      pull_policy: if-not-present
    - name: redis:7.0
      alias: cache-1
    - name: redis:7.0
      alias: cache-2, sessions
  script:
    - wget -qO- http://tutum-wordpress/
    - wget -qO- http://tutum__wordpress/
    - printf 'PING\r\n' | nc -w 2 cache-1 6379
    - printf 'PING\r\n' | nc -w 2 cache-2 6379
    - printf 'PING\r\n' | nc -w 2 sessions 6379
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	if n := strings.Count(r.stdout, "wordpress\n"); n != 2 {
		t.Errorf("wordpress answered %d times, want 2\n%s", n, r)
	}
	if n := strings.Count(r.stdout, "+PONG"); n != 3 {
		t.Errorf("redis answered %d times, want 3\n%s", n, r)
	}
}

func TestGitLabServiceEntrypointCommandVariablesAndBuildDir(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  SUPER_SQL_DB: appdb
sql:
  image: busybox:1.35
  services:
    - name: super/sql:latest
      alias: db
      pull_policy: if-not-present
      command: ["/usr/bin/super-sql", "run"]
    - name: busybox:1.35
      alias: files
      entrypoint: ["sh", "-c"]
      command: ["cp $CI_PROJECT_DIR_GUESS/served.txt /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
      variables:
        CI_PROJECT_DIR_GUESS: /builds/group/project
        HEALTHCHECK_TCP_PORT: "8080"
  script:
    - wget -qO- http://db:5000/
    - wget -qO- http://files:8080/
experimental:
  image:
    name: super/sql:experimental
    entrypoint: [""]
  script:
    - echo "job shell ran, no database started"
`, "served.txt", "from the build directory\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "super-sql appdb\n", "from the build directory\n", "job shell ran, no database started\n")
	mustNotContain(t, r, "WARNING")
}

func TestRunnerConfigServicesImageAndAllowLists(t *testing.T) {
	cfg := `
[[runners]]
  [runners.docker]
    image = "debian:bookworm"
    services = ["redis:7.0"]
    allowed_images = ["debian:*", "busybox:*"]
    allowed_services = ["redis:*"]
`
	p := newProject(t, ".gitlab-ci.yml", `
test:
  script:
    - redis-cli -h redis ping
`, "config.toml", cfg)
	r := p.run("exec", "--config", "config.toml")
	wantCode(t, r, 0)
	mustContain(t, r, "Running job \"test\" in debian:bookworm with services redis", "PONG\n")

	q := newProject(t, ".gitlab-ci.yml", `
test:
  image: postgres:15
  services: [postgres:15]
  script: [echo never]
`, "config.toml", cfg)
	r = q.run("exec", "--config", "config.toml")
	wantCode(t, r, 2)
	mustContain(t, r, ".gitlab-ci.yml:3:10: image postgres:15 is not allowed by the runner configuration (allowed: debian:*, busybox:*)",
		"service postgres:15 is not allowed by the runner configuration (allowed: redis:*)")
	mustNotContain(t, r, "Running job")
}

func TestDroneServiceOverridesAndPortClash(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: test
  image: busybox:1.35
  commands:
  - wget -qO- http://127.0.0.1:5000/
  - printf 'PING\r\n' | nc -w 2 127.0.0.1 6380
services:
- name: sql
  image: super/sql:latest
  pull: if-not-exists
  command: ["/usr/bin/super-sql", "run"]
  environment:
    SUPER_SQL_DB: drone-db
- name: cache
  image: redis:7.0
  entrypoint: ["redis-server"]
  command: ["--port", "6380", "--protected-mode", "no"]
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "super-sql drone-db\n", "+PONG")

	q := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: test
  image: busybox:1.35
  commands: [echo never]
services:
- name: cache
  image: redis:7.0
- name: sessions
  image: redis:7.0
`)
	r = q.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, "services cache (redis:7.0) and sessions (redis:7.0) both listen on port 6379")
	mustNotContain(t, r, "never\n")
}

// Privileged containers cannot start on these test machines (runc lacks a
// capability), so privileged is checked here for its refusal, and in
// engine/docker for reaching the engine; host volumes run for real.
func TestTrustedSettings(t *testing.T) {
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "host.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: test
  image: busybox:1.35
  volumes:
  - name: hostdir
    path: /mnt/host
  commands:
  - cat /mnt/host/host.txt
volumes:
- name: hostdir
  host:
    path: `+hostDir+`
`)
	r := p.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r, ".drone.yml:", "volumes: mounting the host path "+hostDir+" needs a trusted run (slipway exec --trusted)")
	mustNotContain(t, r, "Running job")
	r = p.run("exec", "--trusted")
	wantCode(t, r, 0)
	mustContain(t, r, "from the host\n")

	q := newProject(t, ".drone.yml", `
kind: pipeline
name: default
services:
- name: dind
  image: busybox:1.35
  privileged: true
steps:
- name: test
  image: busybox:1.35
  commands: [echo never]
`)
	r = q.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r, ".drone.yml:7:3: privileged: true needs a trusted run (slipway exec --trusted)")
}
