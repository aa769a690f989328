package server

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/drone/drone-go/drone"
)

// bearerTransport is what the drone CLI's oauth2 client does: every
// request carries the token.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func (ts *testServer) drone(token string) drone.Client {
	return drone.NewClient(ts.url, &http.Client{Transport: bearerTransport{token}})
}

func ptr[T any](v T) *T { return &v }

// TestDroneCLICalls drives the server with drone-go, the drone CLI's own
// client, through what the CLI's commands call (see
// shared/protocols/drone-cli-1.9.0.jsonl).
func TestDroneCLICalls(t *testing.T) {
	ts := startServer(t, Options{})
	admin := ts.drone(ts.admin)
	self, err := admin.Self()
	if err != nil || self.Login != "admin" || !self.Admin {
		t.Fatalf("drone info: %+v %v", self, err)
	}
	repo, err := admin.RepoEnable("octo", "hello")
	if err != nil || repo.Slug != "octo/hello" || !repo.Active || repo.HTTPURL != ts.url+"/octo/hello.git" {
		t.Fatalf("drone repo enable: %+v %v", repo, err)
	}
	// drone repo update --trusted sends every other flag as null.
	repo, err = admin.RepoUpdate("octo", "hello", &drone.RepoPatch{Trusted: ptr(true)})
	if err != nil || !repo.Trusted {
		t.Fatalf("drone repo update --trusted: %+v %v", repo, err)
	}
	repo, err = admin.RepoUpdate("octo", "hello", &drone.RepoPatch{Config: ptr(".drone.yml")})
	if err != nil || !repo.Trusted || repo.Config != ".drone.yml" {
		t.Errorf("a patch of config_path changed more: %+v %v", repo, err)
	}
	if got, err := admin.Repo("octo", "hello"); err != nil || !got.Trusted || got.Config != ".drone.yml" {
		t.Errorf("drone repo info: %+v %v", got, err)
	}
	_, err = admin.RepoUpdate("octo", "hello", &drone.RepoPatch{Timeout: ptr(int64(30))})
	wantClientError(t, err, 400, "timeout")

	if _, err := admin.SecretCreate("octo", "hello", &drone.Secret{Name: "docker_password", Data: "pw-s3cret", PullRequest: true}); err != nil {
		t.Fatal(err)
	}
	secrets, err := admin.SecretList("octo", "hello")
	if err != nil || len(secrets) != 1 || secrets[0].Name != "docker_password" || secrets[0].Data != "" || !secrets[0].PullRequest {
		t.Errorf("drone secret ls: %+v %v", secrets, err)
	}
	revealed, _ := ts.st.RevealSecrets(context.Background(), repo.ID)
	if len(revealed) != 1 || revealed[0].Value != "pw-s3cret" {
		t.Errorf("stored secret %+v", revealed)
	}
	if err := admin.SecretDelete("octo", "hello", "docker_password"); err != nil {
		t.Error(err)
	}
}

func wantClientError(t *testing.T, err error, code int, part string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), "client error "+strconv.Itoa(code)+": ") || !strings.Contains(err.Error(), part) {
		t.Errorf("got %v, want client error %d about %s", err, code, part)
	}
}

func TestDroneAccessRules(t *testing.T) {
	ts := startServer(t, Options{})
	admin := ts.drone(ts.admin)
	if _, err := admin.RepoEnable("octo", "hello"); err != nil {
		t.Fatal(err)
	}
	_, aliceToken := ts.user(t, "alice")
	alice := ts.drone(aliceToken)
	_, err := alice.Repo("octo", "hello")
	wantClientError(t, err, 403, "alice may not access octo/hello")
	_, err = alice.SecretCreate("octo", "hello", &drone.Secret{Name: "x", Data: "y"})
	wantClientError(t, err, 403, "may not access")

	// Her own repository: she may change it, but not mark it trusted.
	if _, err := alice.RepoEnable("alice", "app"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.RepoUpdate("alice", "app", &drone.RepoPatch{Trusted: ptr(true)})
	wantClientError(t, err, 403, "only administrators may change trusted")
	_, err = alice.RepoUpdate("alice", "app", &drone.RepoPatch{Timeout: ptr(int64(5))})
	wantClientError(t, err, 403, "only administrators")
	if r, _ := ts.st.Repo(context.Background(), "alice", "app"); r.Trusted {
		t.Error("a refused patch was stored")
	}
	_, err = alice.Repo("nobody", "here")
	wantClientError(t, err, 404, "not found")
	_, err = alice.RepoEnable("bad..", ".hidden")
	wantClientError(t, err, 400, "namespace")
	_, err = ts.drone("wrong").Self()
	wantClientError(t, err, 401, "unknown API token")
}

// TestDroneBuildsAndLogs: drone build ls and drone log view of a pushed
// build, with a log a runner would have sent.
func TestDroneBuildsAndLogs(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/logs", ".gitlab-ci.yml", gitlabFile)
	if len(builds) != 1 {
		t.Fatalf("builds %+v", builds)
	}
	jobs, _ := ts.st.Jobs(context.Background(), builds[0].ID)
	if _, err := ts.st.AppendLog(context.Background(), jobs[0].ID, 0, []byte("$ echo build\nbuild\npartial")); err != nil {
		t.Fatal(err)
	}
	admin := ts.drone(ts.admin)
	list, err := admin.BuildList("octo", "logs", drone.ListOptions{Page: 1, Size: 25})
	if err != nil || len(list) != 1 {
		t.Fatalf("drone build ls: %+v %v", list, err)
	}
	b := list[0]
	if b.Number != 1 || b.Status != "pending" || b.Event != "push" || b.Target != "main" || b.After != builds[0].Commit || len(b.Stages) != 5 {
		t.Errorf("build %+v", b)
	}
	if st := b.Stages[0]; st.Number != 1 || st.Name != "compile" || st.Status != "pending" || len(st.Steps) != 1 {
		t.Errorf("stage %+v", st)
	}
	lines, err := admin.Logs("octo", "logs", 1, 1, 1)
	if err != nil || len(lines) != 3 || lines[0].Message != "$ echo build\n" || lines[1].Number != 1 || lines[2].Message != "partial" {
		t.Errorf("drone log view: %+v %v", lines, err)
	}
	_, err = admin.Logs("octo", "logs", 1, 9, 1)
	wantClientError(t, err, 404, "5 stages")
	_, err = admin.Logs("octo", "logs", 2, 1, 1)
	wantClientError(t, err, 404, "no build 2")
	if page2, err := admin.BuildList("octo", "logs", drone.ListOptions{Page: 2, Size: 25}); err != nil || len(page2) != 0 {
		t.Errorf("page 2: %+v %v", page2, err)
	}
}

func TestDroneRepoListAndDisable(t *testing.T) {
	ts := startServer(t, Options{})
	_, aliceToken := ts.user(t, "alice")
	alice := ts.drone(aliceToken)
	for _, slug := range []string{"alice/a", "alice/b"} {
		ns, name, _ := strings.Cut(slug, "/")
		if _, err := alice.RepoEnable(ns, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.drone(ts.admin).RepoEnable("octo", "hidden"); err != nil {
		t.Fatal(err)
	}
	list, err := alice.RepoList()
	if err != nil || len(list) != 2 || list[0].Slug != "alice/a" || list[1].Slug != "alice/b" {
		t.Errorf("drone repo ls: %+v %v", list, err)
	}
	wantClientError(t, alice.RepoDisable("octo", "hidden"), 403, "may not access")
	if err := alice.RepoDisable("alice", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ts.bareDir("alice", "a")); !os.IsNotExist(err) {
		t.Errorf("the removed repository's git is still there: %v", err)
	}
	if list, _ := alice.RepoList(); len(list) != 1 {
		t.Errorf("after disable: %+v", list)
	}
}
