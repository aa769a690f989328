package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/agent/agenttest"
	"github.com/slipway-ci/slipway/engine"
)

const runnerFile = `
slow:
  image: busybox:1.35
  script:
    - echo "started with $MY_SECRET"
    - sleep 3
    - echo finished
  after_script:
    - echo after-script-ran
`

// runnerSetup is a server with job 1 queued (its commit served over HTTP
// with its job token) and a runner registered with it through the CLI.
func runnerSetup(t *testing.T) (*agenttest.Server, *project, string) {
	t.Helper()
	root := t.TempDir()
	sha := agenttest.GitRepo(t, root, map[string]string{".gitlab-ci.yml": runnerFile})
	git := agenttest.GitServer(t, root, agenttest.JobToken(1))
	srv := agenttest.NewServer(t)
	info := agenttest.Git{RepoURL: git.URL + "/group/project.git", Ref: "main", Sha: sha, RefType: "branch"}
	secret := agenttest.Variable{Key: "MY_SECRET", Value: "hunter2-very-secret", Masked: true}
	srv.Add(agenttest.Job(1, agenttest.Document(t, ".gitlab-ci.yml", runnerFile, "slow"), info, false, nil, secret))
	p := &project{t: t, dir: t.TempDir()}
	cfg := filepath.Join(p.dir, "config.toml")
	r := p.run("runner", "register", "--url", srv.URL, "--token", srv.RunnerToken, "--name", "e2e",
		"--docker-image", "busybox:1.35", "--config", cfg)
	wantCode(t, r, 0)
	// No registry here: the runner must use the local image.
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("    pull_policy = \"never\"\n"); err != nil {
		t.Fatal(err)
	}
	return srv, p, cfg
}

// waitTrace blocks until job 1's trace holds s.
func waitTrace(t *testing.T, srv *agenttest.Server, pr *proc, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(srv.Trace(1), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the trace:\n%s\n%s", s, srv.Trace(1), pr.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM: the running job finishes and is reported, no job is taken
// after it, and the runner exits 0.
func TestRunnerFinishesItsJobOnSIGTERM(t *testing.T) {
	srv, p, cfg := runnerSetup(t)
	pr := p.start("runner", "run", "--config", cfg)
	waitTrace(t, srv, pr, "started with [MASKED]\n")
	pr.signal(syscall.SIGTERM)
	srv.Add(agenttest.Job(2, nil, agenttest.Git{}, false, nil))
	r := pr.waitWithin(time.Minute)
	assertNothingLeft(t, r.owner)
	wantCode(t, r, 0)
	u := srv.Final(t)
	if u.State != "success" || srv.Queued() != 1 {
		t.Errorf("final %+v, %d queued (want job 2 left)\n%s", u, srv.Queued(), r)
	}
	tr := srv.Trace(1)
	if !strings.Contains(tr, "finished\n") || !strings.Contains(tr, "after-script-ran\n") || strings.Contains(tr, "hunter2") {
		t.Errorf("trace:\n%s", tr)
	}
}

// Ctrl-C twice: the running job is cancelled (after_script still runs),
// reported failed, and the runner exits 130.
func TestRunnerCancelsItsJobOnSecondCtrlC(t *testing.T) {
	srv, p, cfg := runnerSetup(t)
	pr := p.start("runner", "run", "--config", cfg)
	waitTrace(t, srv, pr, "started with")
	pr.signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	pr.signal(syscall.SIGINT)
	r := pr.waitWithin(time.Minute)
	assertNothingLeft(t, r.owner)
	wantCode(t, r, 130)
	u := srv.Final(t)
	tr := srv.Trace(1)
	if u.State != "failed" || strings.Contains(tr, "finished\n") || !strings.Contains(tr, "after-script-ran\n") {
		t.Errorf("final %+v, trace:\n%s\n%s", u, tr, r)
	}
}

// A runner killed outright leaves its job's containers; the next runner
// started with the same configuration removes them.
func TestRestartedRunnerCollectsWhatAKilledOneLeft(t *testing.T) {
	srv, p, cfg := runnerSetup(t)
	pr := p.start("runner", "run", "--config", cfg)
	waitTrace(t, srv, pr, "started with")
	owner := engine.OwnerOf(pr.cmd.Process.Pid)
	pr.signal(syscall.SIGKILL)
	_ = pr.wait()
	if c, _, v := labelled(t, "slipway.owner="+owner); c+v == 0 {
		t.Fatal("the killed runner left nothing: the test shows nothing")
	}
	again := p.start("runner", "run", "--config", cfg)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(again.stderr.String(), "taking up to") {
		if time.Now().After(deadline) {
			t.Fatalf("the runner did not start:\n%s", again.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	again.signal(syscall.SIGTERM)
	r := again.waitWithin(time.Minute)
	wantCode(t, r, 0)
	mustContain(t, r, "removed what 1 earlier killed run(s) left behind")
	assertNothingLeft(t, owner)
}
