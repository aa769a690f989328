package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs `slipway server` (with the extra flags, if any) and
// waits until it listens.
func startServer(t *testing.T, dataDir, addr string, extra ...string) *proc {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	pr := p.start(append([]string{"server", "--data-dir", dataDir, "--addr", addr}, extra...)...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(pr.stderr.String(), "listening on") {
		if time.Now().After(deadline) {
			pr.cmd.Process.Kill()
			t.Fatalf("slipway server did not listen:\n%s", pr.wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pr
}

// server is a running server binary with its administrator.
type server struct {
	proc            *proc
	data, addr, url string
	admin           string // the administrator's API token
}

// serve starts a server on a new data dir and a free loopback port,
// stopped (SIGTERM) when the test ends.
func serve(t *testing.T, extra ...string) *server {
	t.Helper()
	data, addr := t.TempDir(), freeAddr(t)
	srv := startServer(t, data, addr, extra...)
	t.Cleanup(func() { srv.signal(syscall.SIGTERM); srv.waitWithin(15 * time.Second) })
	return &server{proc: srv, data: data, addr: addr, url: "http://" + addr, admin: adminToken(t, data)}
}

func apiGet(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, data)
		}
	}
	return resp.StatusCode
}

func gitIn(t *testing.T, dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestServerCommand runs the real slipway server binary: first start,
// a repository pushed with git, the build seen through the Drone API, a
// runner token minted from the command line, SIGTERM, and a restart.
func TestServerCommand(t *testing.T) {
	data, addr := t.TempDir(), freeAddr(t)
	url := "http://" + addr
	srv := startServer(t, data, addr)
	tokenFile := filepath.Join(data, "admin.token")
	if !strings.Contains(srv.stderr.String(), tokenFile) {
		t.Errorf("the first start does not say where the admin token is:\n%s", srv.stderr.String())
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(raw))
	if fi, _ := os.Stat(tokenFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v", fi.Mode().Perm())
	}

	req, _ := http.NewRequest("POST", url+"/api/repos/octo/e2e", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("enable: %v %v", resp, err)
	}
	work := t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"commit", "--quiet", "--allow-empty", "-m", "first"},
	} {
		if out, err := gitIn(t, work, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(work, ".gitlab-ci.yml"), []byte("a:\n  image: busybox:1.35\n  script: [echo a]\nb:\n  stage: test\n  image: busybox:1.35\n  script: [echo b]\n"), 0o644)
	gitIn(t, work, "add", ".")
	gitIn(t, work, "commit", "--quiet", "-m", "ci")
	remote := "http://x:%s@" + addr + "/octo/e2e.git"
	if out, err := gitIn(t, work, "push", strings.Replace(remote, "%s", "wrong", 1), "main"); err == nil || !strings.Contains(out, "unknown API token") {
		t.Errorf("a push with a wrong token: %v %s", err, out)
	}
	if out, err := gitIn(t, work, "push", "--quiet", strings.Replace(remote, "%s", admin, 1), "main"); err != nil {
		t.Fatalf("git push: %v %s", err, out)
	}
	var builds []struct {
		Number int64
		Status string
		Stages []struct{ Name, Status string }
	}
	if code := apiGet(t, url+"/api/repos/octo/e2e/builds", admin, &builds); code != 200 || len(builds) != 1 ||
		len(builds[0].Stages) != 2 || builds[0].Stages[0].Name != "a" || builds[0].Stages[1].Name != "b" {
		t.Errorf("builds: %d %+v", code, builds)
	}

	mint := exec.Command(slipway, "runner", "token", "create", "--server", url, "--token", admin, "--tags", "docker,linux")
	out, err := mint.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "glrt-") {
		t.Errorf("runner token create: %v %s", err, out)
	}

	srv.signal(syscall.SIGTERM)
	r := srv.waitWithin(15 * time.Second)
	if r.code != 0 || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("after SIGTERM:\n%s", r)
	}

	// A restart keeps the administrator and the builds.
	srv = startServer(t, data, addr)
	if strings.Contains(srv.stderr.String(), "created user") {
		t.Errorf("a restart created another administrator:\n%s", srv.stderr.String())
	}
	if code := apiGet(t, url+"/api/repos/octo/e2e/builds", admin, &builds); code != 200 || len(builds) != 1 {
		t.Errorf("builds after a restart: %d %+v", code, builds)
	}
	srv.signal(syscall.SIGINT)
	if r := srv.waitWithin(15 * time.Second); r.code != 0 {
		t.Errorf("after SIGINT:\n%s", r)
	}
}
