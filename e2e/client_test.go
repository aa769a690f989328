package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/slipway-ci/slipway/engine"
)

// cliEnv is a user's environment for the client commands: a home of its
// own (where login saves the credentials) and no inherited server.
func cliEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "SLIPWAY_SERVER=", "SLIPWAY_TOKEN="}
}

// cli runs a client command to its end.
func cli(t *testing.T, env []string, args ...string) result {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	return p.startEnv(env, args...).waitWithin(60 * time.Second)
}

// cliOK runs a client command that must succeed and returns its stdout.
func cliOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("slipway %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// cliJSON runs a command with --format json and decodes what it prints.
func cliJSON(t *testing.T, env []string, out any, args ...string) {
	t.Helper()
	stdout := cliOK(t, env, append(args, "--format", "json")...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("slipway %s: %v:\n%s", strings.Join(args, " "), err, stdout)
	}
}

func adminToken(t *testing.T, data string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// serveForCLI runs the server binary until the test ends, and answers
// its address, the administrator's token and a user's environment.
func serveForCLI(t *testing.T) (addr, admin string, env []string) {
	sv := serve(t)
	return sv.addr, sv.admin, cliEnv(t)
}

// TestClientCommands drives the server binary with the client commands
// only: login, repositories, secrets, variables and builds.
func TestClientCommands(t *testing.T) {
	addr, admin, env := serveForCLI(t)
	url := "http://" + addr

	if r := cli(t, env, "repo", "ls"); r.code != 2 || !strings.Contains(r.stderr, "slipway login") {
		t.Errorf("repo ls before login: %s", r)
	}
	if r := cli(t, env, "login", url, "--token", "wrong"); r.code == 0 || !strings.Contains(r.stderr, "unknown API token") {
		t.Errorf("login with a wrong token: %s", r)
	}
	if out := cliOK(t, env, "login", url, "--token", admin); !strings.Contains(out, "as admin") {
		t.Errorf("login: %q", out)
	}
	creds := filepath.Join(strings.TrimPrefix(env[1], "XDG_CONFIG_HOME="), "slipway", "credentials")
	if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials: %v %v", fi, err)
	}
	// An environment token wins over the saved one.
	if r := cli(t, append(env, "SLIPWAY_TOKEN=bogus"), "repo", "ls"); r.code == 0 || !strings.Contains(r.stderr, "401") {
		t.Errorf("repo ls with SLIPWAY_TOKEN=bogus: %s", r)
	}

	if out := cliOK(t, env, "repo", "add", "octo/cli"); !strings.Contains(out, url+"/octo/cli.git") {
		t.Errorf("repo add: %q", out)
	}
	cliOK(t, env, "repo", "trust", "octo/cli")
	var repos []struct {
		Slug    string
		Trusted bool
	}
	cliJSON(t, env, &repos, "repo", "ls")
	if len(repos) != 1 || repos[0].Slug != "octo/cli" || !repos[0].Trusted {
		t.Errorf("repo ls after trust: %+v", repos)
	}
	cliOK(t, env, "repo", "untrust", "octo/cli")
	if out := cliOK(t, env, "repo", "ls"); !strings.Contains(out, "REPOSITORY") || !strings.Contains(out, "octo/cli    false") {
		t.Errorf("repo ls table after untrust:\n%s", out)
	}

	secretFile := filepath.Join(t.TempDir(), "s")
	os.WriteFile(secretFile, []byte("from-a-file-value"), 0o600)
	cliOK(t, env, "secret", "add", "octo/cli", "FROM_FILE", "@"+secretFile)
	cliOK(t, env, "secret", "add", "octo/cli", "INLINE", "inline-value")
	cliOK(t, env, "secret", "rm", "octo/cli", "INLINE")
	if out := cliOK(t, env, "secret", "ls", "octo/cli", "--format", "json"); !strings.Contains(out, "FROM_FILE") ||
		strings.Contains(out, "INLINE") || strings.Contains(out, "value") {
		t.Errorf("secret ls: %s", out)
	}

	cliOK(t, env, "var", "add", "octo/cli", "PLAIN", "visible")
	cliOK(t, env, "var", "add", "octo/cli", "HIDDEN", "hidden-value", "--masked")
	table := cliOK(t, env, "var", "ls", "octo/cli")
	if !strings.Contains(table, "visible") || !strings.Contains(table, "[MASKED]") || strings.Contains(table, "hidden-value") {
		t.Errorf("var ls:\n%s", table)
	}
	cliOK(t, env, "var", "rm", "octo/cli", "PLAIN")
	var vars []struct{ Name, Value string }
	cliJSON(t, env, &vars, "var", "ls", "octo/cli")
	if len(vars) != 1 || vars[0].Name != "HIDDEN" || vars[0].Value != "" {
		t.Errorf("var ls after rm: %+v", vars)
	}

	if r := cli(t, env, "build", "start", "octo/cli"); r.code == 0 || !strings.Contains(r.stderr, "push it first") {
		t.Errorf("build start of an empty repository: %s", r)
	}
	push(t, addr, admin, "octo/cli", ".gitlab-ci.yml", "only:\n  image: busybox:1.35\n  script: [\"true\"]\n")
	var started struct {
		Number int64
		Ref    string
		Jobs   []struct{ Name string } `json:"stages"`
	}
	cliJSON(t, env, &started, "build", "start", "octo/cli", "--ref", "main")
	if started.Number != 2 || started.Ref != "refs/heads/main" || len(started.Jobs) != 1 || started.Jobs[0].Name != "only" {
		t.Errorf("build start: %+v", started)
	}
	if out := cliOK(t, env, "build", "cancel", "octo/cli", "2"); out != "build 2: killed\n" {
		t.Errorf("build cancel: %q", out)
	}
	ls := cliOK(t, env, "build", "ls", "octo/cli")
	if lines := strings.Split(strings.TrimSpace(ls), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") ||
		!strings.Contains(lines[1], "killed") || !strings.Contains(lines[2], "pending") {
		t.Errorf("build ls:\n%s", ls)
	}
	if r := cli(t, env, "build", "logs", "octo/cli", "1", "nope"); r.code != 2 || !strings.Contains(r.stderr, "no job nope") {
		t.Errorf("logs of an unknown job: %s", r)
	}
	cliOK(t, env, "repo", "rm", "octo/cli")
	if r := cli(t, env, "build", "ls", "octo/cli"); r.code == 0 || !strings.Contains(r.stderr, "404") {
		t.Errorf("build ls after repo rm: %s", r)
	}
}

// startRunner mints a runner token, registers a runner with it and runs
// the runner binary, with env added to its environment.
func startRunner(t *testing.T, url, admin string, env ...string) *proc {
	t.Helper()
	glrt, err := exec.Command(slipway, "runner", "token", "create", "--server", url, "--token", admin, "--run-untagged").Output()
	if err != nil {
		t.Fatalf("runner token create: %v", err)
	}
	cfg := filepath.Join(t.TempDir(), "runner.toml")
	if out, err := exec.Command(slipway, "runner", "register", "--url", url, "--token", strings.TrimSpace(string(glrt)),
		"--executor", "docker", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("runner register: %v %s", err, out)
	}
	p := &project{t: t, dir: t.TempDir()}
	return p.startEnv(env, "runner", "run", "--config", cfg)
}

// TestCancelFromCLI: a long job followed live with build logs -f, then
// cancelled with build cancel; the runner hears Job-Status: canceled,
// stops the job, and leaves nothing running.
func TestCancelFromCLI(t *testing.T) {
	addr, admin, env := serveForCLI(t)
	url := "http://" + addr
	cliOK(t, env, "login", url, "--token", admin)
	cliOK(t, env, "repo", "add", "octo/long")
	push(t, addr, admin, "octo/long", ".gitlab-ci.yml", `
long:
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script:
    - echo "long job started"
    - sleep 300
    - echo "never reached"
`)
	runner := startRunner(t, url, admin)
	p := &project{t: t, dir: t.TempDir()}
	follow := p.startEnv(env, "build", "logs", "octo/long", "1", "long", "-f")
	follow.waitFor("long job started", 2*time.Minute)
	owner := engine.OwnerOf(runner.cmd.Process.Pid)
	if c, _, _ := labelled(t, "slipway.owner="+owner); c == 0 {
		t.Fatalf("the runner (%s) runs no container while the job runs:\n%s", owner, runner.stderr.String())
	}

	start := time.Now()
	if out := cliOK(t, env, "build", "cancel", "octo/long", "1"); !strings.HasPrefix(out, "build 1: ") {
		t.Errorf("build cancel: %q", out)
	}
	f := follow.waitWithin(time.Minute)
	if f.code != 0 || !strings.Contains(f.stderr, "long: canceled") || strings.Contains(f.stdout, "never reached") {
		t.Errorf("build logs -f:\n%s", f)
	}
	if st := waitBuild(t, url, admin, "octo/long"); st != "killed" {
		t.Errorf("build ended %s, want killed", st)
	}
	t.Logf("cancel to the end of the followed log: %s", time.Since(start).Round(time.Millisecond))
	if out := cliOK(t, env, "build", "logs", "octo/long", "1"); !strings.Contains(out, "long job started") || strings.Contains(out, "never reached") {
		t.Errorf("build logs after the cancel:\n%s", out)
	}
	checkMetrics(t, url)
	runner.signal(syscall.SIGTERM)
	r := runner.waitWithin(time.Minute)
	assertNothingLeft(t, r.owner)
	if strings.Contains(r.stderr, "panic") {
		t.Errorf("runner:\n%s", r.stderr)
	}
}

// checkMetrics scrapes /metrics after a build ran on the real runner API:
// its claim was timed, its log counted, its runner seen.
func checkMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			t.Errorf("/metrics has no %s", name)
			return 0
		}
		m := f.Metric[0]
		switch {
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	if claims, logged, runners := value("slipway_claim_duration_seconds"), value("slipway_log_bytes_total"),
		value("slipway_runners_connected"); claims < 1 || logged < float64(len("long job started")) || runners != 1 {
		t.Errorf("/metrics: %v claims, %v log bytes, %v runners connected", claims, logged, runners)
	}
}
