package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerAndRunnerRunABuild is the whole system on one machine: the
// slipway server binary, a repository pushed to it with git, a runner
// registered with a token the server minted, and the runner binary taking
// the jobs and running them on the Docker Engine. A GitLab job reaches its
// Redis service; a Drone pipeline's secret is masked in the stored log.
func TestServerAndRunnerRunABuild(t *testing.T) {
	sv := serve(t)
	addr, url, admin := sv.addr, sv.url, sv.admin
	apiCall(t, "POST", url+"/api/repos/octo/gl", admin, "")
	apiCall(t, "POST", url+"/api/repos/octo/dr", admin, "")
	apiCall(t, "POST", url+"/api/repos/octo/dr/secrets", admin, `{"name":"token","data":"s3cret-server-value"}`)
	push(t, addr, admin, "octo/gl", ".gitlab-ci.yml", `
test:
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  services:
    - {name: "redis:7.0", pull_policy: if-not-present}
  script:
    - echo "on $CI_COMMIT_REF_NAME"
    - cat README
    - printf 'PING\r\n' | nc -w 2 redis 6379
`)
	push(t, addr, admin, "octo/dr", ".drone.yml", `
kind: pipeline
name: default
steps:
- name: leak
  image: busybox:1.35
  pull: if-not-present
  environment:
    TOKEN: {from_secret: token}
  commands:
  - echo "token is $TOKEN"
`)

	runner := startRunner(t, url, admin)
	defer func() { runner.signal(syscall.SIGTERM); runner.waitWithin(60 * time.Second) }()
	gl := waitBuild(t, url, admin, "octo/gl")
	dr := waitBuild(t, url, admin, "octo/dr")
	if gl != "success" || dr != "success" {
		t.Errorf("builds ended %s and %s, want success:\nrunner:\n%s", gl, dr, runner.stderr.String())
	}
	glLog := buildLog(t, url, admin, "octo/gl")
	for _, want := range []string{"on main\n", "the readme\n", "+PONG"} {
		if !strings.Contains(glLog, want) {
			t.Errorf("the GitLab job's log lacks %q:\n%s", want, glLog)
		}
	}
	drLog := buildLog(t, url, admin, "octo/dr")
	if strings.Contains(drLog, "s3cret-server-value") || !strings.Contains(drLog, "token is [MASKED]") {
		t.Errorf("the Drone job's log:\n%s", drLog)
	}
}

func apiCall(t *testing.T, method, url, token, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}

// push commits file (and a README) to a new repository and pushes it.
func push(t *testing.T, addr, token, slug, file, content string) {
	t.Helper()
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, file), []byte(content), 0o644)
	os.WriteFile(filepath.Join(work, "README"), []byte("the readme\n"), 0o644)
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"}, {"add", "."}, {"commit", "--quiet", "-m", "ci"},
		{"push", "--quiet", "http://x:" + token + "@" + addr + "/" + slug + ".git", "main"},
	} {
		if out, err := gitIn(t, work, args...); err != nil {
			t.Fatalf("git %v: %v %s", args[0], err, out)
		}
	}
}

// waitBuild waits for the first build of slug to finish and returns its
// status.
func waitBuild(t *testing.T, url, token, slug string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var builds []struct{ Status string }
		if apiGet(t, url+"/api/repos/"+slug+"/builds", token, &builds) == 200 && len(builds) == 1 {
			switch builds[0].Status {
			case "success", "failure", "error", "killed":
				return builds[0].Status
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("build of %s did not finish in 3 minutes", slug)
	return ""
}

// buildLog is the stored log of the first job of build 1 of slug.
func buildLog(t *testing.T, url, token, slug string) string {
	t.Helper()
	return jobLog(t, url, token, slug, 1)
}
