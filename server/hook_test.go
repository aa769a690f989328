package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipway-ci/slipway/server/store"
)

// upstream is a remote repository as a forge would hold it: a bare
// repository served over git's smart HTTP by git http-backend, and a
// working copy that pushes to it.
type upstream struct {
	bare string // the bare repository's path
	url  string // its http:// URL
	work string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	root := t.TempDir()
	u := &upstream{bare: filepath.Join(root, "hello.git"), work: t.TempDir()}
	mustGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", u.bare)
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u.url = srv.URL + "/hello.git"
	mustGit(t, u.work, "init", "--quiet", "--initial-branch=main")
	mustGit(t, u.work, "remote", "add", "origin", u.bare)
	return u
}

// commit commits a file and pushes the branch upstream; it returns the
// commit.
func (u *upstream) commit(t *testing.T, branch, name, content string) string {
	t.Helper()
	commitFile(t, u.work, name, content)
	mustGit(t, u.work, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	return strings.TrimSpace(mustGit(t, u.work, "rev-parse", "HEAD"))
}

// payload is a recorded example payload with the push's values in it.
func payload(t *testing.T, name, ref, before, after string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "hooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("{{REF}}", ref, "{{BEFORE}}", before, "{{AFTER}}", after).Replace(string(data))
}

const zeroSHA = "0000000000000000000000000000000000000000"

// signed is the headers a forge sends with body, signed with secret.
func signed(source, event, body, secret string) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	sig := hex.EncodeToString(mac.Sum(nil))
	h := http.Header{"Content-Type": {"application/json"}}
	switch source {
	case "github":
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", newDeliveryID())
		h.Set("X-Hub-Signature-256", "sha256="+sig)
	case "gitea":
		// Gitea sends GitHub's and Gogs's headers beside its own.
		h.Set("X-Gitea-Event", event)
		h.Set("X-Gitea-Delivery", newDeliveryID())
		h.Set("X-GitHub-Delivery", newDeliveryID())
		h.Set("X-Gogs-Event", event)
		h.Set("X-GitHub-Event", event)
		h.Set("X-Gitea-Signature", sig)
		h.Set("X-Hub-Signature-256", "sha256="+sig)
	case "gitlab":
		h.Set("X-Gitlab-Event", event)
		h.Set("X-Gitlab-Event-UUID", newDeliveryID())
		h.Set("X-Gitlab-Token", secret)
	}
	return h
}

// hook posts a webhook and returns the status and the body.
func (ts *testServer) hook(t *testing.T, slug string, h http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.url+"/api/hook/"+slug, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// mirror adds a mirror of cloneURL as the administrator and sets its
// webhook secret; it returns the repository and the secret.
func (ts *testServer) mirror(t *testing.T, slug, cloneURL string) (store.Repo, string) {
	t.Helper()
	js, _ := json.Marshal(EnableRequest{CloneURL: cloneURL})
	code, body := ts.call(t, "POST", "/api/repos/"+slug, ts.admin, string(js))
	if code != 200 || !strings.Contains(body, `"clone_url":"`+cloneURL+`"`) {
		t.Fatalf("add mirror %s: %d %s", slug, code, body)
	}
	code, body = ts.call(t, "POST", "/api/repos/"+slug+"/hook", ts.admin, "")
	var h Hook
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || h.Secret == "" || h.URL != ts.url+"/api/hook/"+slug {
		t.Fatalf("set hook: %d %s", code, body)
	}
	ns, name, _ := strings.Cut(slug, "/")
	repo, err := ts.st.Repo(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return repo, h.Secret
}

// TestMirrorBuildsOnWebhooks mirrors a repository served over HTTP by git
// http-backend, updates it, and sends the webhooks GitHub, Gitea and
// GitLab would send for the pushes.
func TestMirrorBuildsOnWebhooks(t *testing.T) {
	ts := startServer(t, Options{})
	testMirrorWebhooks(t, ts)
}

func testMirrorWebhooks(t *testing.T, ts *testServer) {
	up := newUpstream(t)
	first := up.commit(t, "main", "README", "hello\n")
	repo, secret := ts.mirror(t, "octo/mirror", up.url)
	if !ts.has(repo, plumbing.NewHash(first), "refs/heads/main") {
		t.Fatal("adding the mirror did not fetch it")
	}
	if head := mustGit(t, ts.bareDir("octo", "mirror"), "symbolic-ref", "HEAD"); strings.TrimSpace(head) != "refs/heads/main" {
		t.Errorf("mirror HEAD %s", head)
	}

	// GitHub: a push to main.
	second := up.commit(t, "main", ".gitlab-ci.yml", gitlabFile)
	body := payload(t, "github-push.json", "refs/heads/main", first, second)
	b := wantBuild(t)(ts.hook(t, "octo/mirror", signed("github", "push", body, secret), body))
	if b.Number != 1 || b.After != second || b.Before != first || b.Event != "push" || b.Sender != "octocat" ||
		b.Ref != "refs/heads/main" || len(b.Stages) != 5 || b.Status != "pending" {
		t.Errorf("GitHub push built %+v", b)
	}

	// Gitea: a new branch.
	third := up.commit(t, "feature", ".gitlab-ci.yml", "only:\n  script: [echo]\n  image: busybox:1.35\n")
	body = payload(t, "gitea-push.json", "refs/heads/feature", zeroSHA, third)
	b = wantBuild(t)(ts.hook(t, "octo/mirror", signed("gitea", "push", body, secret), body))
	if b.Number != 2 || b.After != third || b.Before != "" || b.Sender != "gitea" || b.Ref != "refs/heads/feature" || len(b.Stages) != 1 {
		t.Errorf("Gitea push built %+v", b)
	}

	// GitLab: an annotated tag builds as a tag event, of the tagged commit.
	mustGit(t, up.work, "tag", "-a", "-m", "release", "v1.0")
	mustGit(t, up.work, "push", "--quiet", "origin", "v1.0")
	tagObj := strings.TrimSpace(mustGit(t, up.work, "rev-parse", "v1.0"))
	body = payload(t, "gitlab-tag-push.json", "refs/tags/v1.0", zeroSHA, tagObj)
	b = wantBuild(t)(ts.hook(t, "octo/mirror", signed("gitlab", "Tag Push Hook", body, secret), body))
	if b.Number != 3 || b.Event != "tag" || b.After != third || b.Sender != "jsmith" || b.Ref != "refs/tags/v1.0" {
		t.Errorf("GitLab tag push built %+v", b)
	}

	// GitLab: a push, which the GitLab payload's user names.
	fourth := up.commit(t, "main", "README", "again\n")
	body = payload(t, "gitlab-push.json", "refs/heads/main", second, fourth)
	b = wantBuild(t)(ts.hook(t, "octo/mirror", signed("gitlab", "Push Hook", body, secret), body))
	if b.Number != 4 || b.After != fourth || b.Sender != "jsmith" {
		t.Errorf("GitLab push built %+v", b)
	}

	// GitHub's ping, once the hook is made; a deleted branch; an event
	// that is not a push: answered, nothing built.
	ping := payload(t, "github-ping.json", "", "", "")
	if code, msg := ts.hook(t, "octo/mirror", signed("github", "ping", ping, secret), ping); code != 200 || !strings.Contains(msg, "pong") {
		t.Errorf("ping: %d %s", code, msg)
	}
	mustGit(t, up.work, "push", "--quiet", "origin", ":feature")
	del := strings.Replace(payload(t, "github-push.json", "refs/heads/feature", third, zeroSHA), `"deleted": false`, `"deleted": true`, 1)
	if code, msg := ts.hook(t, "octo/mirror", signed("github", "push", del, secret), del); code != 202 || !strings.Contains(msg, "deleted") {
		t.Errorf("a deleted branch: %d %s", code, msg)
	}
	issues := `{"action":"opened","issue":{"number":1}}`
	if code, msg := ts.hook(t, "octo/mirror", signed("github", "issues", issues, secret), issues); code != 202 || !strings.Contains(msg, "ignored") {
		t.Errorf("an issues event: %d %s", code, msg)
	}
	if n := len(ts.builds(t, repo)); n != 4 {
		t.Errorf("%d builds, want 4", n)
	}

	// A new branch at a commit the mirror has: the branch is fetched too,
	// for the runners fetch it from the server.
	mustGit(t, up.work, "push", "--quiet", "origin", fourth+":refs/heads/same")
	body = payload(t, "github-push.json", "refs/heads/same", zeroSHA, fourth)
	b = wantBuild(t)(ts.hook(t, "octo/mirror", signed("github", "push", body, secret), body))
	if b.Number != 5 || b.After != fourth {
		t.Errorf("a new branch at a known commit: %+v", b)
	}
	if out, err := gitCmd(t, ts.bareDir("octo", "mirror"), "rev-parse", "--verify", "refs/heads/same"); err != nil || strings.TrimSpace(out) != fourth {
		t.Errorf("the mirror's new branch: %v %s", err, out)
	}

	// A build started by hand fetches first.
	fifth := up.commit(t, "main", "README", "by hand\n")
	code, msg := ts.call(t, "POST", "/api/repos/octo/mirror/builds", ts.admin, `{"ref":"main"}`)
	if code != 201 || !strings.Contains(msg, fifth) {
		t.Errorf("build start of a mirror: %d %s", code, msg)
	}

	// The mirror takes no push: its remote is the truth.
	dir, _ := ts.clone(t, "octo/mirror", ts.admin)
	commitFile(t, dir, "x", "x")
	if out, err := gitCmd(t, dir, "push", "origin", "main"); err == nil || !strings.Contains(out, "mirrors "+up.url) {
		t.Errorf("a push to a mirror: %v %s", err, out)
	}
}

// wantBuild(t)(code, body) decodes a webhook's build, failing unless it
// was created.
func wantBuild(t *testing.T) func(int, string) droneBuild {
	return func(code int, body string) droneBuild {
		t.Helper()
		var b droneBuild
		if code != http.StatusCreated || json.Unmarshal([]byte(body), &b) != nil {
			t.Fatalf("webhook: %d %s", code, body)
		}
		return b
	}
}

// TestWebhookBadInput: each bad webhook gets a 4xx with its reason, and
// nothing is fetched, stored or started.
func TestWebhookBadInput(t *testing.T) {
	ts := startServer(t, Options{})
	up := newUpstream(t)
	first := up.commit(t, "main", ".gitlab-ci.yml", gitlabFile)
	repo, secret := ts.mirror(t, "octo/mirror", up.url)
	ts.enable(t, "octo/hosted")
	must[store.Repo](t)(ts.st.CreateRepo(context.Background(), store.Repo{OwnerID: repo.OwnerID, Namespace: "octo", Name: "nosecret", CloneURL: up.url, MaxRequeues: -1}))
	next := up.commit(t, "main", "README", "not fetched yet\n")
	good := payload(t, "github-push.json", "refs/heads/main", first, next)
	gh := func(body string) http.Header { return signed("github", "push", body, secret) }
	huge := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", maxHookBody) + `"}`
	for _, tc := range []struct {
		name, slug string
		header     http.Header
		body       string
		code       int
		reason     string
	}{
		{"malformed JSON", "octo/mirror", gh(`{"ref": "refs/heads/main",`), `{"ref": "refs/heads/main",`, 400, "not a GitHub push payload"},
		{"wrong signature", "octo/mirror", signed("github", "push", good, "not-the-secret"), good, 401, "does not match"},
		{"missing signature", "octo/mirror", http.Header{"X-Github-Event": {"push"}}, good, 401, "no X-Hub-Signature-256"},
		{"body changed after signing", "octo/mirror", gh(good), strings.Replace(good, "octocat", "mallory", 1), 401, "does not match"},
		{"wrong Gitea signature", "octo/mirror", signed("gitea", "push", good, "nope"), good, 401, "X-Gitea-Signature"},
		{"wrong GitLab token", "octo/mirror", signed("gitlab", "Push Hook", good, "nope"), good, 401, "X-Gitlab-Token"},
		{"no forge header", "octo/mirror", http.Header{"Content-Type": {"application/json"}}, good, 400, "not a GitHub, Gitea or GitLab webhook"},
		{"unknown repository", "octo/nope", gh(good), good, 404, "no repository octo/nope"},
		{"hosted repository", "octo/hosted", gh(good), good, 409, "not a mirror"},
		{"no secret set", "octo/nosecret", gh(good), good, 403, "no webhook secret"},
		{"huge body", "octo/mirror", gh(huge), huge, 413, "at most"},
		{"not a branch or tag", "octo/mirror", gh(strings.Replace(good, "refs/heads/main", "refs/pull/1/head", 1)), strings.Replace(good, "refs/heads/main", "refs/pull/1/head", 1), 400, "want refs/heads/"},
		{"not a commit", "octo/mirror", gh(strings.Replace(good, next, "HEAD~1", -1)), strings.Replace(good, next, "HEAD~1", -1), 400, "not a commit hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := ts.hook(t, tc.slug, tc.header, tc.body)
			if code != tc.code || !strings.Contains(msg, tc.reason) {
				t.Errorf("%d %q, want %d with %q", code, msg, tc.code, tc.reason)
			}
		})
	}
	if ts.has(repo, plumbing.NewHash(next), "refs/heads/main") {
		t.Error("a refused webhook fetched the mirror")
	}
	for _, slug := range []string{"octo/mirror", "octo/hosted", "octo/nosecret"} {
		ns, name, _ := strings.Cut(slug, "/")
		r, _ := ts.st.Repo(context.Background(), ns, name)
		if n := len(ts.builds(t, r)); n != 0 {
			t.Errorf("%s: %d builds after refused webhooks", slug, n)
		}
	}
	// The same push, signed right, builds.
	wantBuild(t)(ts.hook(t, "octo/mirror", gh(good), good))
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestMirrorCloneURLRules: what a clone URL may be, and who may give a
// path on the server.
func TestMirrorCloneURLRules(t *testing.T) {
	ts := startServer(t, Options{})
	up := newUpstream(t)
	up.commit(t, "main", "README", "x\n")
	_, bob := ts.user(t, "bob")
	for _, tc := range []struct {
		token, url string
		code       int
		reason     string
	}{
		{bob, up.bare, 403, "only administrators"},
		{bob, "file://" + up.bare, 403, "only administrators"},
		{bob, "ssh://git@example.com/x.git", 400, "want an http(s) URL"},
		{bob, "relative/path", 400, "want an http(s) URL"},
		{bob, "http://user:pw@example.com/x.git", 400, "credentials"},
		{ts.admin, ts.url + "/no/such.git", 422, "fetch"},
	} {
		js, _ := json.Marshal(EnableRequest{CloneURL: tc.url})
		code, msg := ts.call(t, "POST", "/api/repos/octo/m", tc.token, string(js))
		if code != tc.code || !strings.Contains(msg, tc.reason) || strings.Contains(msg, "pw@") {
			t.Errorf("%s: %d %q, want %d with %q", tc.url, code, msg, tc.code, tc.reason)
		}
		if code, _ := ts.call(t, "GET", "/api/repos/octo/m", ts.admin, ""); code != 404 {
			t.Errorf("%s: a refused mirror was kept (%d)", tc.url, code)
		}
	}
	if _, err := os.Stat(ts.bareDir("octo", "m")); !os.IsNotExist(err) {
		t.Errorf("a refused mirror's git was kept: %v", err)
	}
	// An administrator may mirror a path and a file:// URL; bob an http one.
	ts.mirror(t, "octo/path", up.bare)
	ts.mirror(t, "octo/file", "file://"+up.bare)
	ts.mirror(t, "octo/empty", newUpstream(t).url) // a new repository, not pushed to yet
	js, _ := json.Marshal(EnableRequest{CloneURL: up.url})
	if code, msg := ts.call(t, "POST", "/api/repos/bob/http", bob, string(js)); code != 200 {
		t.Errorf("bob's http mirror: %d %s", code, msg)
	}
	// Enabling again: the same URL answers the repository, another is a
	// conflict.
	if code, msg := ts.call(t, "POST", "/api/repos/bob/http", bob, string(js)); code != 200 {
		t.Errorf("enable again: %d %s", code, msg)
	}
	js, _ = json.Marshal(EnableRequest{CloneURL: up.url + "x"})
	if code, msg := ts.call(t, "POST", "/api/repos/bob/http", bob, string(js)); code != 409 || !strings.Contains(msg, "mirrors") {
		t.Errorf("enable with another URL: %d %s", code, msg)
	}
	// A hosted repository has no webhook.
	ts.enable(t, "octo/hosted")
	if code, msg := ts.call(t, "POST", "/api/repos/octo/hosted/hook", ts.admin, ""); code != 409 {
		t.Errorf("hook of a hosted repository: %d %s", code, msg)
	}
}

// TestHookSecretAPI: the secret is shown when set and never again; a
// chosen one is kept; removed, every webhook is refused.
func TestHookSecretAPI(t *testing.T) {
	ts := startServer(t, Options{})
	up := newUpstream(t)
	first := up.commit(t, "main", ".gitlab-ci.yml", gitlabFile)
	ts.mirror(t, "octo/m", up.url)
	code, body := ts.call(t, "POST", "/api/repos/octo/m/hook", ts.admin, `{"secret":"chosen-secret"}`)
	if code != 200 || !strings.Contains(body, `"secret":"chosen-secret"`) {
		t.Fatalf("set a chosen secret: %d %s", code, body)
	}
	code, body = ts.call(t, "GET", "/api/repos/octo/m/hook", ts.admin, "")
	if code != 200 || strings.Contains(body, "chosen-secret") || !strings.Contains(body, `"secret_set":true`) {
		t.Errorf("get hook: %d %s", code, body)
	}
	_, bob := ts.user(t, "bob")
	if code, _ := ts.call(t, "GET", "/api/repos/octo/m/hook", bob, ""); code != 403 {
		t.Errorf("bob reads another's hook: %d", code)
	}
	second := up.commit(t, "main", "README", "x\n")
	body = payload(t, "gitea-push.json", "refs/heads/main", first, second)
	wantBuild(t)(ts.hook(t, "octo/m", signed("gitea", "push", body, "chosen-secret"), body))
	if code, _ := ts.call(t, "DELETE", "/api/repos/octo/m/hook", ts.admin, ""); code != 204 {
		t.Errorf("delete hook: %d", code)
	}
	if code, msg := ts.hook(t, "octo/m", signed("gitea", "push", body, "chosen-secret"), body); code != 403 {
		t.Errorf("a webhook after the secret was removed: %d %s", code, msg)
	}
}
