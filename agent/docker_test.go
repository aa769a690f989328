package agent

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/agent/agenttest"
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
    - echo "runner=$CI_RUNNER_ID/$CI_RUNNER_DESCRIPTION/$CI_RUNNER_TAGS/$CI_RUNNER_EXECUTABLE_ARCH/${CI_RUNNER_VERSION:+version}"
  after_script:
    - echo after-script-ran
fail:
  image: busybox:1.35
  script:
    - echo failing now
    - exit 3
`

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
	sha := agenttest.GitRepo(t, root, map[string]string{".gitlab-ci.yml": e2eFile, "hello.txt": "hello from the repository\n"})
	git := agenttest.GitServer(t, root, agenttest.JobToken(21), agenttest.JobToken(22))
	f := agenttest.NewServer(t)
	info := agenttest.Git{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch", Depth: 20}
	secret := agenttest.Variable{Key: "MY_SECRET", Value: "hunter2-very-secret", Masked: true}
	f.Add(agenttest.Job(21, agenttest.Document(t, ".gitlab-ci.yml", e2eFile, "test"), info, false, nil, secret))
	f.Add(agenttest.Job(22, agenttest.Document(t, ".gitlab-ci.yml", e2eFile, "fail"), info, false, nil))
	var log bytes.Buffer
	yes := true
	cfg := config.Runner{Name: "t", ID: 42, Tags: []string{"docker", "linux"}, RunUntagged: &yes, URL: f.URL, Token: f.RunnerToken}
	cfg.Docker.PullPolicy = config.StringList{"if-not-present"}
	a := &Agent{Log: &log, Runner: runner.Runner{Engine: dock, Engines: map[pipeline.Target]engine.Engine{pipeline.TargetDocker: dock},
		Owner: engine.Owner(), StopGrace: 5 * time.Second}}
	a.Config = &config.Config{Concurrent: 2, Runners: []config.Runner{cfg}}
	stop := runAgent(t, f, a)
	finals := map[string]agenttest.Update{}
	for i := range 2 {
		u := f.Final(t)
		finals[u.Token] = u
		if i == 0 && (len(f.Updates(21)) == 0 || len(f.Updates(22)) == 0) {
			t.Errorf("one job ended before the other started: concurrent = 2 not honoured")
		}
	}
	ok, bad := finals[agenttest.JobToken(21)], finals[agenttest.JobToken(22)]
	tr := f.Trace(21)
	if ok.State != "success" {
		t.Errorf("job 21: %+v\n%s", ok, tr)
	}
	// CI_RUNNER_* are the agent's, not the server's placeholders.
	runnerLine := "runner=42/t/docker, linux/" + runtime.GOOS + "/" + runtime.GOARCH + "/version\n"
	for _, want := range []string{"hello from the repository\n", "secret=[MASKED]\n", "job token=[MASKED]\n", runnerLine, "after-script-ran\n", `Job "test" passed`} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace of job 21 lacks %q:\n%s", want, tr)
		}
	}
	if strings.Contains(tr, "hunter2") || strings.Contains(tr, agenttest.JobToken(21)) {
		t.Errorf("a secret leaked into the trace:\n%s", tr)
	}
	if bad.State != "failed" || bad.ExitCode == nil || *bad.ExitCode != 3 || bad.FailureReason != "script_failure" {
		t.Errorf("job 22: %+v\n%s", bad, f.Trace(22))
	}
	if !strings.Contains(f.Trace(22), "failing now\n") {
		t.Errorf("trace of job 22:\n%s", f.Trace(22))
	}
	stop() // the agent's log is complete
	if strings.Contains(log.String(), "job-token-") || !strings.Contains(log.String(), "job 21 (test): success") {
		t.Errorf("the agent's log shows a job token:\n%s", log.String())
	}
	assertNothingLeft(t, engine.Owner())
}

// TestJobsOfACommitShareItsCheckout: the second job of a commit on a
// runner does not fetch it again: it says so, sees the files, and not
// what the first job wrote into its own workspace. The runner's
// workspace templates are on, as in `slipway runner run`; the checkout
// is removed when the agent stops.
func TestJobsOfACommitShareItsCheckout(t *testing.T) {
	dock, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dock.Close()
	dock.Templates = true
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the agent makes its checkouts
	const file = `
first:
  image: busybox:1.35
  script:
    - cat hello.txt
    - echo changed > hello.txt && touch new.txt
second:
  image: busybox:1.35
  script:
    - cat hello.txt
    - test ! -e new.txt
`
	root := t.TempDir()
	sha := agenttest.GitRepo(t, root, map[string]string{".gitlab-ci.yml": file, "hello.txt": "hello from the repository\n"})
	git := agenttest.GitServer(t, root, agenttest.JobToken(41), agenttest.JobToken(42))
	f := agenttest.NewServer(t)
	info := agenttest.Git{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch", Depth: 20}
	f.Add(agenttest.Job(41, agenttest.Document(t, ".gitlab-ci.yml", file, "first"), info, false, nil))
	f.Add(agenttest.Job(42, agenttest.Document(t, ".gitlab-ci.yml", file, "second"), info, false, nil))
	cfg := config.Runner{Name: "t", URL: f.URL, Token: f.RunnerToken}
	cfg.Docker.PullPolicy = config.StringList{"never"}
	a := &Agent{Config: &config.Config{Concurrent: 1, Runners: []config.Runner{cfg}},
		Runner: runner.Runner{Engine: dock, Owner: engine.Owner(), StopGrace: 5 * time.Second}}
	stop := runAgent(t, f, a)
	for range 2 {
		if u := f.Final(t); u.State != "success" {
			t.Errorf("job with token %s: %s\n%s\n%s", u.Token, u.State, f.Trace(41), f.Trace(42))
		}
	}
	first, second := f.Trace(41), f.Trace(42)
	reuse := "Reusing the checkout of " + sha + " fetched for an earlier job\n"
	if !strings.Contains(first, "Fetching ") || strings.Contains(first, reuse) {
		t.Errorf("the first job did not fetch its commit:\n%s", first)
	}
	if strings.Contains(second, "Fetching ") || !strings.Contains(second, reuse) {
		t.Errorf("the second job did not reuse the first one's checkout:\n%s", second)
	}
	if !strings.Contains(second, "hello from the repository\n") {
		t.Errorf("the second job does not see the checkout:\n%s", second)
	}
	stop()
	if left, _ := filepath.Glob(filepath.Join(tmp, "slipway-checkout-*")); len(left) > 0 {
		t.Errorf("the stopped agent left its checkouts: %v", left)
	}
	assertNothingLeft(t, engine.Owner())
	if n := removeTemplates(t, dock, tmp); n != 1 {
		t.Errorf("the two jobs made %d workspace templates of their checkout, want 1", n)
	}
}

// removeTemplates removes the workspace templates of checkouts below dir
// (they outlive the runs that made them) and says how many there were.
func removeTemplates(t *testing.T, dock *docker.Engine, dir string) int {
	t.Helper()
	n, err := dock.RemoveTemplatesUnder(context.Background(), dir)
	if err != nil {
		t.Error(err)
	}
	return n
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
	sha := agenttest.GitRepo(t, root, map[string]string{".gitlab-ci.yml": file})
	git := agenttest.GitServer(t, root, agenttest.JobToken(31))
	f := agenttest.NewServer(t)
	info := agenttest.Git{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch"}
	f.Add(agenttest.Job(31, agenttest.Document(t, ".gitlab-ci.yml", file, "slow"), info, false, nil))
	cfg := config.Runner{Name: "t", URL: f.URL, Token: f.RunnerToken}
	cfg.Docker.PullPolicy = config.StringList{"never"}
	a := &Agent{Config: &config.Config{Runners: []config.Runner{cfg}},
		Runner: runner.Runner{Engine: dock, Owner: engine.Owner(), StopGrace: 5 * time.Second}}
	runAgent(t, f, a)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(f.Trace(31), "started\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not start:\n%s", f.Trace(31))
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.SetJobStatus(31, "canceled")
	start := time.Now()
	u := f.Final(t)
	if u.State != "failed" || time.Since(start) > 20*time.Second {
		t.Errorf("final %+v after %s", u, time.Since(start))
	}
	tr := f.Trace(31)
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
