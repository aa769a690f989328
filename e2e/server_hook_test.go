package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slipwayCLI runs a slipway client command against the server.
func slipwayCLI(t *testing.T, url, token string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(slipway, args...)
	cmd.Env = append(os.Environ(), "SLIPWAY_SERVER="+url, "SLIPWAY_TOKEN="+token, "XDG_CONFIG_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("slipway %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), err
}

// forge serves a bare repository over git's smart HTTP (git
// http-backend), as GitHub, Gitea or GitLab would; work pushes to it.
func forge(t *testing.T) (url, work string) {
	t.Helper()
	root, work := t.TempDir(), t.TempDir()
	bare := filepath.Join(root, "hello.git")
	if out, err := gitIn(t, root, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"remote", "add", "origin", bare}} {
		if out, err := gitIn(t, work, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	return srv.URL + "/hello.git", work
}

// TestServerWebhooks100AtOnce runs the real server binary on SQLite: a
// mirror added and its webhook set from the command line, then 100
// signed GitHub push webhooks at once, for 100 branches. Every one makes
// its build (none lost, none doubled), and SQLite never says "database
// is locked". Then a build is restarted from the command line.
func TestServerWebhooks100AtOnce(t *testing.T) {
	data, addr := t.TempDir(), freeAddr(t)
	url := "http://" + addr
	srv := startServer(t, data, addr)
	admin := adminToken(t, data)

	remote, work := forge(t)
	os.WriteFile(filepath.Join(work, ".gitlab-ci.yml"), []byte("build:\n  image: busybox:1.35\n  script: [echo $CI_COMMIT_BRANCH]\n"), 0o644)
	// 100 branches, each at its own commit, pushed in one go.
	script := `set -e
git add .gitlab-ci.yml
git commit --quiet -m base
for i in $(seq -w 0 99); do
  c=$(git commit-tree -p HEAD -m "branch b$i" 'HEAD^{tree}')
  git update-ref refs/heads/b$i $c
done
git push --quiet origin 'refs/heads/*:refs/heads/*'`
	sh := exec.Command("sh", "-c", script)
	sh.Dir = work
	sh.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("make branches: %v %s", err, out)
	}
	out, err := gitIn(t, work, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/b*")
	if err != nil {
		t.Fatal(err)
	}
	branches := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		ref, sha, _ := strings.Cut(line, " ")
		branches[ref] = sha
	}
	if len(branches) != 100 {
		t.Fatalf("%d branches:\n%s", len(branches), out)
	}

	if out, err := slipwayCLI(t, url, admin, "repo", "add", "octo/mirror", "--clone-url", remote); err != nil || !strings.Contains(out, "mirrors "+remote) {
		t.Fatalf("repo add --clone-url: %v %s", err, out)
	}
	out, err = slipwayCLI(t, url, admin, "repo", "hook", "octo/mirror")
	if err != nil || !strings.Contains(out, url+"/api/hook/octo/mirror") {
		t.Fatalf("repo hook: %v %s", err, out)
	}
	_, secret, _ := strings.Cut(out, "Secret: ")
	secret = strings.TrimSpace(secret)
	if show, err := slipwayCLI(t, url, admin, "repo", "hook", "octo/mirror", "--show"); err != nil || strings.Contains(show, secret) {
		t.Errorf("repo hook --show: %v %s", err, show)
	}

	tmpl, err := os.ReadFile("../server/testdata/hooks/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code int
		body string
		ref  string
	}
	answers := make(chan answer, len(branches))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for ref, sha := range branches {
		body := strings.NewReplacer("{{REF}}", ref, "{{BEFORE}}", "0000000000000000000000000000000000000000", "{{AFTER}}", sha).Replace(string(tmpl))
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req, _ := http.NewRequest("POST", url+"/api/hook/octo/mirror", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{code: -1, body: err.Error(), ref: ref}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers <- answer{code: resp.StatusCode, body: string(b), ref: ref}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	close(answers)
	t.Logf("100 webhooks answered in %v", time.Since(began))
	numbers := map[int64]string{}
	for a := range answers {
		var b struct {
			Number int64  `json:"number"`
			Ref    string `json:"ref"`
			After  string `json:"after"`
		}
		if a.code != 201 || json.Unmarshal([]byte(a.body), &b) != nil || b.Ref != a.ref || b.After != branches[a.ref] {
			t.Errorf("webhook for %s: %d %s", a.ref, a.code, a.body)
			continue
		}
		if other, dup := numbers[b.Number]; dup {
			t.Errorf("build %d twice: %s and %s", b.Number, other, a.ref)
		}
		numbers[b.Number] = a.ref
	}
	var builds []struct {
		Number int64
		Ref    string
		After  string
		Stages []struct{ Name string }
	}
	if code := apiGet(t, url+"/api/repos/octo/mirror/builds?per_page=100", admin, &builds); code != 200 || len(builds) != 100 {
		t.Fatalf("builds: %d, %d of them", code, len(builds))
	}
	for _, b := range builds {
		if b.Number < 1 || b.Number > 100 || numbers[b.Number] != b.Ref || branches[b.Ref] != b.After || len(b.Stages) != 1 {
			t.Errorf("stored build %+v", b)
		}
	}
	if strings.Contains(srv.stderr.String(), "locked") || strings.Contains(srv.stderr.String(), "SQLITE_BUSY") {
		t.Errorf("the server's log:\n%s", srv.stderr.String())
	}

	out, err = slipwayCLI(t, url, admin, "build", "restart", "octo/mirror", "7", "--format", "json")
	var restarted struct {
		Number int64  `json:"number"`
		Parent int64  `json:"parent"`
		Ref    string `json:"ref"`
	}
	if err != nil || json.Unmarshal([]byte(out), &restarted) != nil || restarted.Number != 101 || restarted.Parent != 7 || restarted.Ref != numbers[7] {
		t.Errorf("build restart: %v %s", err, out)
	}

	srv.signal(syscall.SIGTERM)
	if r := srv.waitWithin(15 * time.Second); r.code != 0 {
		t.Errorf("after SIGTERM:\n%s", r)
	}
}
