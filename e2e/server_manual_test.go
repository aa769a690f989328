package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerManualJob: the server binary and a real runner. A build's
// manual deploy job is not run: the build passes without it and the
// runner leaves it alone. slipway build play queues it, the same runner
// runs it, and the build passes again with its log.
func TestServerManualJob(t *testing.T) {
	addr, admin, env := serveForCLI(t)
	url := "http://" + addr
	cliOK(t, env, "login", url, "--token", admin)
	cliOK(t, env, "repo", "add", "octo/manual")
	push(t, addr, admin, "octo/manual", ".gitlab-ci.yml", `
stages: [test, deploy]
test:
  stage: test
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script: [echo tested]
deploy:
  stage: deploy
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  when: manual
  script:
    - echo "deploying $CI_COMMIT_REF_NAME"
    - cat README
`)
	runner := startRunner(t, url, admin)
	defer func() { runner.signal(syscall.SIGTERM); runner.waitWithin(60 * time.Second) }()

	if st := waitBuild(t, url, admin, "octo/manual"); st != "success" {
		t.Fatalf("build ended %s, want success without its manual job:\nrunner:\n%s", st, runner.stderr.String())
	}
	// The runner keeps polling; the manual job stays where it is.
	time.Sleep(3 * time.Second)
	if st := jobStatus(t, url, admin, "octo/manual", "deploy"); st != "manual" {
		t.Fatalf("deploy is %s before it was played, want manual", st)
	}
	if log := jobLog(t, url, admin, "octo/manual", 2); log != "" {
		t.Fatalf("deploy has a log before it was played:\n%s", log)
	}
	if r := cli(t, env, "build", "play", "octo/manual", "1", "test"); r.code == 0 || !strings.Contains(r.stderr, "not a manual job") {
		t.Errorf("play of a job that is not manual: %s", r)
	}

	var played struct {
		Status string
		Stages []struct{ Name, Status string }
	}
	cliJSON(t, env, &played, "build", "play", "octo/manual", "1", "deploy")
	// The answer is the build as it is after the play: the waiting
	// runner, woken by the queued job, may have claimed it already.
	if played.Status != "running" || len(played.Stages) != 2 ||
		played.Stages[1].Status != "pending" && played.Stages[1].Status != "running" {
		t.Fatalf("build play answered %+v, want the build running and deploy pending or running", played)
	}
	if st := waitBuild(t, url, admin, "octo/manual"); st != "success" {
		t.Fatalf("build ended %s after play:\nrunner:\n%s", st, runner.stderr.String())
	}
	if st := jobStatus(t, url, admin, "octo/manual", "deploy"); st != "success" {
		t.Errorf("played deploy ended %s", st)
	}
	log := jobLog(t, url, admin, "octo/manual", 2)
	for _, want := range []string{"deploying main\n", "the readme\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("the played job's log lacks %q:\n%s", want, log)
		}
	}
}

// jobStatus is the status of job name of build 1 of slug.
func jobStatus(t *testing.T, url, token, slug, name string) string {
	t.Helper()
	var b struct {
		Stages []struct{ Name, Status string }
	}
	if code := apiGet(t, url+"/api/repos/"+slug+"/builds/1", token, &b); code != 200 {
		t.Fatalf("build 1 of %s: %d", slug, code)
	}
	for _, s := range b.Stages {
		if s.Name == name {
			return s.Status
		}
	}
	t.Fatalf("build 1 of %s has no job %s: %+v", slug, name, b)
	return ""
}

// jobLog is the stored log of job n of build 1 of slug.
func jobLog(t *testing.T, url, token, slug string, n int) string {
	t.Helper()
	return jobLogN(t, url, token, slug, 1, n)
}
