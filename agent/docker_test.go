package agent

import (
	"bytes"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/runner"
)

const e2eFile = `
test:
  image: busybox:1.35
  script:
    - cat hello.txt
    - echo "secret=$MY_SECRET"
    - echo "job token=$CI_JOB_TOKEN"
  after_script:
    - echo after-script-ran
fail:
  image: busybox:1.35
  script:
    - echo failing now
    - exit 3
`

// gitServer serves bare repositories under root with git's smart HTTP
// protocol (git http-backend), asking for gitlab-ci-token and the one
// job token it accepts.
func gitServer(t *testing.T, root string, tokens ...string) *httptest.Server {
	t.Helper()
	exe, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(exe)), "git-http-backend"),
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		for _, tok := range tokens {
			if ok && user == "gitlab-ci-token" && pass == tok {
				backend.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gitRepo makes group/project.git under root with one commit holding
// files, and returns the commit.
func gitRepo(t *testing.T, root string, files map[string]string) string {
	t.Helper()
	src := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(src, "init", "-q", "-b", "main")
	git(src, "add", ".")
	git(src, "commit", "-q", "-m", "first")
	git(src, "clone", "-q", "--bare", src, filepath.Join(root, "group", "project.git"))
	return git(src, "rev-parse", "HEAD")
}

// TestJobsOnDocker: jobs of a parsed .gitlab-ci.yml, taken from a server,
// their commit cloned over HTTP with the job token, run on the real
// Docker Engine; the server gets the masked log and the result.
func TestJobsOnDocker(t *testing.T) {
	dock, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dock.Close()
	root := t.TempDir()
	sha := gitRepo(t, root, map[string]string{".gitlab-ci.yml": e2eFile, "hello.txt": "hello from the repository\n"})
	git := gitServer(t, root, jobToken(21), jobToken(22))
	f := newFakeServer(t)
	info := GitInfo{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch", Depth: 20}
	secret := Variable{Key: "MY_SECRET", Value: "hunter2-very-secret", Masked: true}
	f.add(jobJSON(21, document(t, ".gitlab-ci.yml", e2eFile, "test"), info, false, nil, secret))
	f.add(jobJSON(22, document(t, ".gitlab-ci.yml", e2eFile, "fail"), info, false, nil))
	var log bytes.Buffer
	cfg := config.Runner{Name: "t", URL: f.srv.URL, Token: f.runnerToken}
	cfg.Docker.PullPolicy = config.StringList{"if-not-present"}
	a := &Agent{Log: &log, Runner: runner.Runner{Engine: dock, Engines: map[pipeline.Target]engine.Engine{pipeline.TargetDocker: dock},
		Owner: engine.Owner(), StopGrace: 5 * time.Second}}
	a.Config = &config.Config{Concurrent: 2, Runners: []config.Runner{cfg}}
	stop := runAgent(t, f, a)
	finals := map[string]Update{}
	for range 2 {
		u := f.final(t)
		finals[u.Token] = u
	}
	ok, bad := finals[jobToken(21)], finals[jobToken(22)]
	tr := f.trace(21)
	if ok.State != "success" {
		t.Errorf("job 21: %+v\n%s", ok, tr)
	}
	for _, want := range []string{"hello from the repository\n", "secret=[MASKED]\n", "job token=[MASKED]\n", "after-script-ran\n", `Job "test" passed`} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace of job 21 lacks %q:\n%s", want, tr)
		}
	}
	if strings.Contains(tr, "hunter2") || strings.Contains(tr, jobToken(21)) {
		t.Errorf("a secret leaked into the trace:\n%s", tr)
	}
	if bad.State != "failed" || bad.ExitCode == nil || *bad.ExitCode != 3 || bad.FailureReason != "script_failure" {
		t.Errorf("job 22: %+v\n%s", bad, f.trace(22))
	}
	if !strings.Contains(f.trace(22), "failing now\n") {
		t.Errorf("trace of job 22:\n%s", f.trace(22))
	}
	stop() // the agent's log is complete
	if strings.Contains(log.String(), "job-token-") || !strings.Contains(log.String(), "job 21 (test): success") {
		t.Errorf("the agent's log shows a job token:\n%s", log.String())
	}
	assertNothingLeft(t, engine.Owner())
}

// TestCancelOnDocker: Job-Status: canceled in an answer stops the job;
// its after_script still runs and reaches the server.
func TestCancelOnDocker(t *testing.T) {
	dock, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dock.Close()
	const file = "slow:\n  image: busybox:1.35\n  script:\n    - echo started\n    - sleep 60\n    - echo never\n  after_script:\n    - echo cleaning up\n"
	root := t.TempDir()
	sha := gitRepo(t, root, map[string]string{".gitlab-ci.yml": file})
	git := gitServer(t, root, jobToken(31))
	f := newFakeServer(t)
	info := GitInfo{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch"}
	f.add(jobJSON(31, document(t, ".gitlab-ci.yml", file, "slow"), info, false, nil))
	cfg := config.Runner{Name: "t", URL: f.srv.URL, Token: f.runnerToken}
	cfg.Docker.PullPolicy = config.StringList{"never"}
	a := &Agent{Config: &config.Config{Runners: []config.Runner{cfg}},
		Runner: runner.Runner{Engine: dock, Owner: engine.Owner(), StopGrace: 5 * time.Second}}
	runAgent(t, f, a)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(f.trace(31), "started\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not start:\n%s", f.trace(31))
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.mu.Lock()
	f.jobStatus[31] = "canceled"
	f.mu.Unlock()
	start := time.Now()
	u := f.final(t)
	if u.State != "failed" || time.Since(start) > 20*time.Second {
		t.Errorf("final %+v after %s", u, time.Since(start))
	}
	tr := f.trace(31)
	if !strings.Contains(tr, "cleaning up\n") || strings.Contains(tr, "never\n") {
		t.Errorf("trace:\n%s", tr)
	}
	assertNothingLeft(t, engine.Owner())
}

// assertNothingLeft requires no container, network or volume labelled
// slipway.run that this process made (other tests' runs may be going on).
func assertNothingLeft(t *testing.T, owner string) {
	t.Helper()
	for _, ls := range [][]string{{"container", "ls", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
		kind := ls[0]
		out, err := exec.Command("docker", append(ls, "-q", "--filter", "label="+engine.LabelRun,
			"--filter", "label="+engine.LabelOwner+"="+owner)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s ls: %v\n%s", kind, err, out)
		}
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			t.Errorf("left behind: %s %v", kind, ids)
		}
	}
}
