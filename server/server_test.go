package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// testServer is a real server on a loopback port, SQLite in a temporary
// directory.
type testServer struct {
	*Server
	url   string
	dir   string
	admin string // the administrator's API token
}

func startServer(t *testing.T, o Options) *testServer {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	s, addr, stop := serve(t, o)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	token, err := os.ReadFile(filepath.Join(o.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, url: "http://" + addr, dir: o.DataDir, admin: strings.TrimSpace(string(token))}
}

// serve opens a server and serves it on a loopback port; stop shuts it
// down and returns what Serve returned.
func serve(t *testing.T, o Options) (s *Server, addr string, stop func() error) {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return s, ln.Addr().String(), func() error {
		cancel()
		return <-done
	}
}

// call makes an API request and returns the status and the body.
func (ts *testServer) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// user adds a non-administrator and returns its token.
func (ts *testServer) user(t *testing.T, login string) (store.User, string) {
	t.Helper()
	token := newToken("")
	u, err := ts.st.CreateUser(context.Background(), store.User{Login: login}, token)
	if err != nil {
		t.Fatal(err)
	}
	return u, token
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

func TestFirstStartCreatesAdminOnce(t *testing.T) {
	t.Setenv("SLIPWAY_SECRET_KEY", "")
	os.Unsetenv("SLIPWAY_SECRET_KEY")
	var log strings.Builder
	dir := t.TempDir()
	ts := startServer(t, Options{DataDir: dir, Log: &log})
	tokenFile := filepath.Join(dir, AdminTokenFile)
	wantMode(t, tokenFile, 0o600)
	wantMode(t, filepath.Join(dir, "secret.key"), 0o600)
	if !strings.Contains(log.String(), tokenFile) {
		t.Errorf("the first start does not say where the token is: %q", log.String())
	}
	if code, body := ts.call(t, "GET", "/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	if code, body := ts.call(t, "GET", "/api/user", ts.admin, ""); code != 200 || !strings.Contains(body, `"admin":true`) {
		t.Errorf("the admin token does not log in: %d %s", code, body)
	}
	ts.Close()

	// A second start on the same directory keeps the administrator.
	s, err := Open(context.Background(), Options{DataDir: dir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	users, err := s.st.ListUsers(context.Background())
	if err != nil || len(users) != 1 {
		t.Errorf("users after a restart: %v %v", users, err)
	}
	if _, err := s.st.UserByToken(context.Background(), ts.admin); err != nil {
		t.Errorf("the admin token no longer works after a restart: %v", err)
	}
}

func TestSecretKeyFromEnvironment(t *testing.T) {
	t.Setenv("SLIPWAY_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	dir := t.TempDir()
	startServer(t, Options{DataDir: dir})
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secret.key written although $SLIPWAY_SECRET_KEY is set: %v", err)
	}
}

func TestGracefulShutdownLetsRequestsFinish(t *testing.T) {
	slow := make(chan struct{})
	o := Options{DataDir: t.TempDir(), Log: io.Discard, RunnerAPI: func(store.Store, store.Sealer, string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(slow)
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "finished")
		})
	}}
	s, addr, stop := serve(t, o)
	defer s.Close()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/v4/jobs/request")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-slow
	if err := stop(); err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	if b := <-got; b != "finished" {
		t.Errorf("the request in flight got %q", b)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

func TestAuthRefusals(t *testing.T) {
	ts := startServer(t, Options{})
	_, userToken := ts.user(t, "alice")
	cases := []struct {
		method, path, token string
		code                int
		reason              string
	}{
		{"GET", "/api/user", "", 401, "no API token"},
		{"GET", "/api/user", "wrong", 401, "unknown API token"},
		{"POST", "/api/slipway/runners", userToken, 403, "only administrators"},
		{"GET", "/api/nothing", ts.admin, 404, "no such API endpoint"},
	}
	for _, c := range cases {
		code, body := ts.call(t, c.method, c.path, c.token, `{"run_untagged":true}`)
		if code != c.code || !strings.Contains(body, c.reason) || strings.Count(body, "\n") != 1 {
			t.Errorf("%s %s: %d %q, want %d with %q on one line", c.method, c.path, code, body, c.code, c.reason)
		}
	}
}

func TestRunnerAPIMount(t *testing.T) {
	ts := startServer(t, Options{})
	if code, body := ts.call(t, "POST", "/api/v4/jobs/request", "", ""); code != 404 || !strings.Contains(body, "GitLab Runner API is not part") {
		t.Errorf("without a runner API: %d %q", code, body)
	}
	var gotStore store.Store
	var gotURL string
	ts = startServer(t, Options{RunnerAPI: func(st store.Store, _ store.Sealer, externalURL string) http.Handler {
		gotStore, gotURL = st, externalURL
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			io.WriteString(w, r.URL.Path)
		})
	}})
	// Serve makes the handler; once a call has been answered, it has.
	if code, _ := ts.call(t, "POST", "/api/v4/jobs/request", "", ""); code != 204 {
		t.Errorf("the runner API handler was not reached: %d", code)
	}
	// The handler gets the store measured for /metrics, over the server's.
	if m, ok := gotStore.(*measuredStore); !ok || m.Store != ts.st || gotURL != ts.url {
		t.Errorf("the runner API was given store %v and URL %q, want the server's and %q", gotStore, gotURL, ts.url)
	}
}

func TestRunnerToken(t *testing.T) {
	ts := startServer(t, Options{})
	code, body := ts.call(t, "POST", "/api/slipway/runners", ts.admin, `{"tags":["docker","prod"],"run_untagged":false,"description":"box"}`)
	if code != 201 {
		t.Fatalf("mint: %d %s", code, body)
	}
	token := body[strings.Index(body, `"token":"`)+9:]
	token = token[:strings.IndexByte(token, '"')]
	if !strings.HasPrefix(token, "glrt-") {
		t.Fatalf("token %q has no glrt- prefix", token)
	}
	rn, err := ts.st.RunnerByToken(context.Background(), token)
	if err != nil || strings.Join(rn.Tags, ",") != "docker,prod" || rn.RunUntagged || rn.Description != "box" {
		t.Errorf("stored runner %+v, %v", rn, err)
	}
	if code, body := ts.call(t, "POST", "/api/slipway/runners", ts.admin, `{}`); code != 400 || !strings.Contains(body, "no job at all") {
		t.Errorf("a runner that can take nothing: %d %q", code, body)
	}
}

func TestLeaseExpiryLoop(t *testing.T) {
	ts := startServer(t, Options{LeaseCheck: 20 * time.Millisecond})
	ctx := context.Background()
	repo, err := ts.st.CreateRepo(ctx, store.Repo{OwnerID: 1, Namespace: "o", Name: "n", MaxRequeues: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, jobs, err := ts.st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: "push"}, []store.Job{{Name: "a", Document: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	rn, err := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		j, err := ts.st.Job(ctx, jobs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == store.JobPending && j.Requeues == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lapsed lease was not taken back: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gitCmd runs the real git binary with no user or system configuration.
func gitCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
