package gitlabapi

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server"
	"github.com/slipway-ci/slipway/server/store"
)

// TestInServer is the handler mounted in the real server: a repository
// pushed with git, a runner registered with the legacy token, the build's
// first job cloned from git_info.repo_url with the job token, its log
// masked, and the next stage's job handed out once it succeeds.
func TestInServer(t *testing.T) {
	dir := t.TempDir()
	s, err := server.Open(t.Context(), server.Options{DataDir: dir, Log: io.Discard,
		RunnerAPI: func(st store.Store, sealer store.Sealer, externalURL string) http.Handler {
			return New(st, Options{RegistrationToken: regToken, ExternalURL: externalURL, Sealer: sealer,
				PollTimeout: 2 * time.Second})
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	admin := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, server.AdminTokenFile)))(t)))
	e := &env{t: t, st: s.Store(), url: base}

	call(t, "POST", base+"/api/repos/octo/hello", admin, "", http.StatusOK)
	call(t, "POST", base+"/api/repos/octo/hello/secrets", admin, `{"name":"MY_SECRET","data":"`+secretValue+`"}`, http.StatusOK)
	work := t.TempDir()
	git(t, work, "init", "--quiet", "--initial-branch=main")
	check(t, os.WriteFile(filepath.Join(work, ".gitlab-ci.yml"),
		[]byte("build:\n  stage: build\n  script: [echo $MY_SECRET]\ntest:\n  stage: test\n  script: [\"true\"]\n"), 0o644))
	git(t, work, "add", ".gitlab-ci.yml")
	git(t, work, "commit", "--quiet", "-m", "ci")
	git(t, work, "push", "--quiet", strings.Replace(base, "http://", "http://me:"+admin+"@", 1)+"/octo/hello.git", "main")

	r := e.do("POST", "/api/v4/runners", map[string]any{"token": regToken}).want(t, http.StatusCreated, "registration")
	var reg registered
	check(t, json.Unmarshal(r.body, &reg))
	first := e.takeAs(reg.Token)
	if first.JobInfo.Name != "build" || first.GitInfo.RepoURL != base+"/octo/hello.git" {
		t.Fatalf("job %q from %s: want build, from %s/octo/hello.git", first.JobInfo.Name, first.GitInfo.RepoURL, base)
	}
	u := must(url.Parse(first.GitInfo.RepoURL))(t)
	u.User = url.UserPassword("gitlab-ci-token", first.Token)
	git(t, t.TempDir(), "clone", "--quiet", u.String(), "src")

	e.patch(first, 0, "token="+first.Token[:9]).want(t, http.StatusAccepted, "trace")
	e.patch(first, 15, first.Token[9:]+"\n"+secretValue+"\n").want(t, http.StatusAccepted, "trace")
	e.put(first, "success").want(t, http.StatusOK, "success")
	if got := e.log(first.ID); got != "token=[MASKED]\n[MASKED]\n" {
		t.Fatalf("stored log %q", got)
	}
	second := e.takeAs(reg.Token)
	e.put(second, "success").want(t, http.StatusOK, "success")
	builds := must(s.Store().ListBuilds(t.Context(), first.JobInfo.ProjectID, 1, 10))(t)
	if second.JobInfo.Name != "test" || len(builds) != 1 || builds[0].Status != store.BuildSuccess {
		t.Fatalf("second job %q, builds %+v: want test, then one successful build", second.JobInfo.Name, builds)
	}
}

// takeAs claims a job for the runner with the token.
func (e *env) takeAs(tok string) runnerJob {
	e.t.Helper()
	r := e.do("POST", "/api/v4/jobs/request", map[string]any{"token": tok}).want(e.t, http.StatusCreated, "jobs/request")
	var j runnerJob
	check(e.t, json.Unmarshal(r.body, &j))
	return j
}

func call(t *testing.T, method, u, token, body string, status int) {
	t.Helper()
	req := must(http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body)))(t)
	req.Header.Set("Authorization", "Bearer "+token)
	resp := must(http.DefaultClient.Do(req))(t)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, u, resp.StatusCode, data, status)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
