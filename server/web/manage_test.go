package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/web"
)

// bob is a second user, given acme/app (he may look, not manage).
func (s *site) bob(t *testing.T) *browser {
	t.Helper()
	ctx := context.Background()
	u, err := s.st.CreateUser(ctx, store.User{Login: "bob"}, "bob-token")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := s.st.Repo(ctx, "acme", "app")
	if err == nil {
		err = s.st.GrantRepo(ctx, repo.ID, u.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s.client(t, "bob-token")
}

func TestCancelNeedsFormTokenAndManager(t *testing.T) {
	s := startSite(t).withBuild(t)
	admin, bob := s.client(t, s.admin), s.bob(t)
	_, body := admin.get(t, "/acme/app/-/builds/1")
	wantContains(t, "build page", body, `action="/acme/app/-/builds/1/cancel"`, `id="cancel"`, `id="restart"`)
	// The server's RestartBuild reads the commit from git; this build's
	// was never pushed, and the page says so with the server's status.
	if resp := admin.post(t, "/acme/app/-/builds/1/restart", nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("restart of a build whose commit is not in git: %d, want 409", resp.StatusCode)
	}
	if _, body := bob.get(t, "/acme/app/-/builds/1"); strings.Contains(body, `id="cancel"`) || strings.Contains(body, `id="restart"`) {
		t.Errorf("bob, who may only look, sees the cancel or restart button")
	}
	if resp := bob.post(t, "/acme/app/-/builds/1/restart", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob restarts: %d, want 403", resp.StatusCode)
	}
	if resp := bob.post(t, "/acme/app/-/builds/1/cancel", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob cancels: %d, want 403", resp.StatusCode)
	}
	if resp := admin.post(t, "/acme/app/-/builds/1/cancel", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cancel with a wrong form token: %d, want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.url+"/acme/app/-/builds/1/cancel", strings.NewReader("csrf="+admin.csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := admin.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cancel from another origin: %v %v, want 403", resp.StatusCode, err)
	}
	if b, _ := s.st.Build(context.Background(), s.build.RepoID, 1); b.Status != store.BuildRunning {
		t.Fatalf("refused cancels changed the build: %s", b.Status)
	}
	resp := admin.post(t, "/acme/app/-/builds/1/cancel", nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/acme/app/-/builds/1" {
		t.Errorf("cancel: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	job, _ := s.st.Job(context.Background(), s.jobs[0].ID)
	unit, _ := s.st.Job(context.Background(), s.jobs[1].ID)
	if !job.CancelRequested || unit.Status != store.JobCanceled {
		t.Errorf("after cancel: running job cancel_requested=%v, waiting job %s", job.CancelRequested, unit.Status)
	}
}

// TestRestart drives the restart button through web.Options.RestartBuild
// (a stub here: the server's Server.RestartBuild is another change's).
func TestRestart(t *testing.T) {
	s := startSite(t).withBuild(t)
	var asked []string
	h := web.New(web.Options{Store: s.st, RestartBuild: func(ctx context.Context, repo store.Repo, number int64, by store.User) (store.Build, error) {
		asked = append(asked, fmt.Sprintf("%s #%d by %s", repo.Slug(), number, by.Login))
		old, err := s.st.Build(ctx, repo.ID, number)
		if err != nil {
			return old, err
		}
		b, _, err := s.st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: old.Event, Sender: by.Login, Ref: old.Ref, Commit: old.Commit},
			[]store.Job{{Name: "again", Document: []byte("{}")}})
		return b, err
	}})
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := s.client(t, s.admin)
	c.base = ts.URL // the same store, so the same session
	_, body := c.get(t, "/acme/app/-/builds/1")
	wantContains(t, "build page", body, `action="/acme/app/-/builds/1/restart"`, `id="restart"`)
	resp := c.post(t, "/acme/app/-/builds/1/restart", nil)
	if resp.Request.URL.Path != "/acme/app/-/builds/2" || len(asked) != 1 || asked[0] != "acme/app #1 by admin" {
		t.Errorf("restart led to %s; asked %q", resp.Request.URL, asked)
	}
}

func TestSettingsPage(t *testing.T) {
	s := startSite(t).withBuild(t)
	admin, bob := s.client(t, s.admin), s.bob(t)
	if code, _ := bob.get(t, "/acme/app/-/settings"); code != http.StatusForbidden {
		t.Errorf("bob opens the settings: %d, want 403", code)
	}
	if _, body := bob.get(t, "/acme/app"); strings.Contains(body, "/-/settings") {
		t.Errorf("bob's builds page links the settings")
	}
	const secret = "hunter2-very-secret"
	resp := admin.post(t, "/acme/app/-/secrets", url.Values{"name": {"DEPLOY_KEY"}, "value": {secret}})
	if resp.Request.URL.String() != s.url+"/acme/app/-/settings?done=secret" {
		t.Errorf("adding a secret led to %s", resp.Request.URL)
	}
	admin.post(t, "/acme/app/-/variables", url.Values{"name": {"PLAIN"}, "value": {"shown-value"}})
	admin.post(t, "/acme/app/-/variables", url.Values{"name": {"HIDDEN"}, "value": {"masked-value-1"}, "masked": {"on"}})
	if resp := admin.post(t, "/acme/app/-/variables", url.Values{"name": {"SHORT"}, "value": {"abc"}, "masked": {"on"}}); resp.StatusCode != 400 {
		t.Errorf("a masked variable of 3 characters: %d, want 400", resp.StatusCode)
	}
	if resp := admin.post(t, "/acme/app/-/secrets", url.Values{"name": {"1BAD"}, "value": {"x"}}); resp.StatusCode != 400 {
		t.Errorf("a secret named 1BAD: %d, want 400", resp.StatusCode)
	}
	code, body := admin.get(t, "/acme/app/-/settings")
	wantContains(t, "settings", body, "<code>DEPLOY_KEY</code>", "<code>PLAIN</code> = <code>shown-value</code>",
		`<code>HIDDEN</code> = <span class="muted">masked</span>`, `id="trusted"`, `aria-label="Delete secret DEPLOY_KEY"`)
	if code != 200 || strings.Contains(body, secret) || strings.Contains(body, "masked-value-1") {
		t.Errorf("the settings page (%d) shows a secret or masked value", code)
	}
	ctx := context.Background()
	repo, _ := s.st.Repo(ctx, "acme", "app")
	revealed, _ := s.st.RevealSecrets(ctx, repo.ID)
	if len(revealed) != 1 || revealed[0].Value != secret {
		t.Errorf("stored secrets %+v", revealed)
	}

	admin.post(t, "/acme/app/-/settings", url.Values{"config_path": {"ci/pipeline.yml"}, "trusted": {"on"}})
	if repo, _ = s.st.Repo(ctx, "acme", "app"); repo.ConfigPath != "ci/pipeline.yml" || !repo.Trusted {
		t.Errorf("after saving: %+v", repo)
	}
	if resp := admin.post(t, "/acme/app/-/settings", url.Values{"config_path": {"../etc/passwd"}}); resp.StatusCode != 400 {
		t.Errorf("a pipeline file outside the repository: %d", resp.StatusCode)
	}

	// The owner who is not an administrator may not touch the trusted switch.
	bobUser, _ := s.st.UserByLogin(ctx, "bob")
	own, err := s.st.CreateRepo(ctx, store.Repo{OwnerID: bobUser.ID, Namespace: "bob", Name: "own", MaxRequeues: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, body = bob.get(t, "/bob/own/-/settings")
	if strings.Contains(body, `id="trusted"`) {
		t.Errorf("the owner, not an administrator, sees the trusted switch")
	}
	bob.post(t, "/bob/own/-/settings", url.Values{"config_path": {".drone.yml"}, "trusted": {"on"}})
	if own, _ = s.st.RepoByID(ctx, own.ID); own.Trusted || own.ConfigPath != ".drone.yml" {
		t.Errorf("bob's own repository after he saved trusted=on: %+v", own)
	}

	admin.post(t, "/acme/app/-/secrets/delete", url.Values{"name": {"DEPLOY_KEY"}})
	admin.post(t, "/acme/app/-/variables/delete", url.Values{"name": {"HIDDEN"}})
	_, body = admin.get(t, "/acme/app/-/settings")
	if strings.Contains(body, "DEPLOY_KEY") || strings.Contains(body, "HIDDEN") {
		t.Errorf("deleted secret or variable still listed")
	}
}

func TestRunnersPage(t *testing.T) {
	s := startSite(t).withBuild(t)
	admin, bob := s.client(t, s.admin), s.bob(t)
	if code, _ := bob.get(t, "/-/runners"); code != http.StatusForbidden {
		t.Errorf("bob opens the runners page: %d", code)
	}
	_, body := admin.get(t, "/-/runners")
	wantContains(t, "runners", body, fmt.Sprintf("#%d test", s.runner), "untagged jobs too", "compile",
		fmt.Sprintf(`href="/acme/app/-/jobs/%d/log"`, s.jobs[0].ID), `id="mint"`)
	resp, err := admin.PostForm(s.url+"/-/runners", url.Values{"csrf": {admin.csrf}, "tags": {"docker, arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	m := regexp.MustCompile(`slipway runner register --url (\S+) --token (glrt-[0-9a-f]+)`).FindStringSubmatch(body)
	if m == nil || m[1] != s.url {
		t.Fatalf("no register line with this server's URL:\n%s", body)
	}
	rn, err := s.st.RunnerByToken(context.Background(), m[2])
	if err != nil || strings.Join(rn.Tags, ",") != "docker,arm64" || rn.RunUntagged {
		t.Errorf("the minted runner %+v, %v", rn, err)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page with the token may be cached: %q", resp.Header.Get("Cache-Control"))
	}
	if resp := admin.post(t, "/-/runners", url.Values{"tags": {""}}); resp.StatusCode != 400 {
		t.Errorf("a runner with no tags that runs no untagged job: %d, want 400", resp.StatusCode)
	}
}

func TestBadge(t *testing.T) {
	s := startSite(t).withBuild(t)
	admin := s.client(t, s.admin)
	_, body := admin.get(t, "/acme/app/-/settings")
	m := regexp.MustCompile(`id="badge-url" class="wide" readonly value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no badge URL in the settings:\n%s", body)
	}
	keyed := strings.TrimPrefix(strings.ReplaceAll(m[1], "&amp;", "&"), s.url)
	anon := s.client(t, "")
	for path, want := range map[string]int{
		keyed: 200, "/acme/app/badge.svg?ref=main": 404, "/acme/app/badge.svg?ref=main&key=00": 404, "/acme/none/badge.svg?ref=main": 404,
	} {
		resp, err := anon.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		svg := readBody(t, resp)
		if resp.StatusCode != want {
			t.Errorf("anonymous GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want == 200 && (resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "build: running")) {
			t.Errorf("badge %s: %s %s", path, resp.Header.Get("Content-Type"), svg)
		}
	}
	if code, svg := admin.get(t, "/acme/app/badge.svg?ref=refs/heads/main"); code != 200 || !strings.Contains(svg, ">running<") {
		t.Errorf("signed-in badge: %d %s", code, svg)
	}
	if _, svg := admin.get(t, "/acme/app/badge.svg?ref=other"); !strings.Contains(svg, ">unknown<") {
		t.Errorf("badge of a branch with no build: %s", svg)
	}
}

// The cookie holds a session id, not the token; signing out deletes the
// session on the server, so the old cookie no longer signs anyone in.
func TestSessions(t *testing.T) {
	s := startSite(t)
	c := s.client(t, s.admin)
	id := c.session(t)
	if id == s.admin || strings.Contains(id, s.admin) {
		t.Fatalf("the cookie holds the API token")
	}
	req, _ := http.NewRequest("POST", s.url+"/-/login", strings.NewReader("token="+s.admin))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign in from another site's form: %v %v, want 403", resp.StatusCode, err)
	}
	c.post(t, "/-/logout", nil)
	req, _ = http.NewRequest("GET", s.url+"/", nil)
	req.AddCookie(&http.Cookie{Name: "slipway_session", Value: id})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Request.URL.Path != "/-/login" {
		t.Errorf("the signed-out session still opens %s", resp.Request.URL)
	}
}

// TestLivePagesWake: the build page's event stream sends the changed
// fragment when a job finishes, woken by the hub (the poll here is an
// hour, so only the wake-up can deliver it).
func TestLivePagesWake(t *testing.T) {
	s := startSite(t).withBuild(t)
	hub := &live.Hub{}
	st := live.Notifying(s.st, hub)
	h := web.New(web.Options{Store: st, Hub: hub, Poll: time.Hour})
	ts := httptest.NewServer(h)
	defer ts.Close()
	defer h.Shutdown() // first: the builds list's stream never ends by itself
	session := s.client(t, s.admin).session(t)
	c := s.client(t, s.admin)
	c.base = ts.URL
	_, page := c.get(t, "/acme/app/-/builds/1")
	m := regexp.MustCompile(`data-live="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no data-live on the build page:\n%s", page)
	}
	_, ev := openStream(t, ts.URL, strings.ReplaceAll(m[1], "&amp;", "&"), session, "")
	_, list := openStream(t, ts.URL, "/acme/app/-/events?key=stale", session, "")
	if got := list.next(); !strings.HasPrefix(got, "event: html\n") || !strings.Contains(got, `id=\"build-1\"`) {
		t.Errorf("the builds list's stream with a stale key: %q", got)
	}
	if err := st.Finish(context.Background(), s.jobs[0].ID, s.runner, store.Result{Status: store.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	got := ev.next() // the page's own state was not sent again: this is the change
	if !strings.HasPrefix(got, "event: html\n") || !strings.Contains(got, `n-success`) || !strings.Contains(got, `st-pending`) {
		t.Errorf("after compile finished: %q", got)
	}
	if err := st.CancelBuild(context.Background(), s.build.ID); err != nil {
		t.Fatal(err)
	}
	for got = ev.next(); !strings.HasPrefix(got, "event: end"); got = ev.next() {
		if !strings.HasPrefix(got, "event: html\n") {
			t.Fatalf("unexpected event %q", got)
		}
	}
}

// GitLab's collapsible sections become <details>, in the page and in the
// stream; the build page draws the jobs' graph with its needs edge.
func TestSectionsAndGraph(t *testing.T) {
	s := startSite(t).withBuild(t)
	job := s.jobs[0].ID
	s.appendLog(t, job, "before\n\x1b[0Ksection_start:1700000000:fetch[collapsed=true]\r\x1b[0K\x1b[36mFetching\x1b[0m\ninside\n\x1b[0Ksection_end:1700000001:fetch\r\x1b[0K\nafter\n\x1b[0Ksection_start:1700000002:script\r\x1b[0KRunning\n")
	c := s.client(t, s.admin)
	_, body := c.get(t, fmt.Sprintf("/acme/app/-/jobs/%d/log", job))
	wantContains(t, "log with sections", body,
		`<details class="section" data-section="fetch"><summary class="line" id="L2"><a class="ln" href="#L2">2</a><span><span class="fg6">Fetching</span></span></summary>`,
		`<div class="line" id="L3"><a class="ln" href="#L3">3</a><span>inside</span></div>`,
		`<div class="line send" id="L4">`, `</details><div class="line" id="L5"><a class="ln" href="#L5">5</a><span>after</span>`,
		`<details class="section" data-section="script" open><summary class="line" id="L6">`)
	_, ev := openStream(t, s.url, fmt.Sprintf("/acme/app/-/jobs/%d/log/stream?offset=0", job), c.session(t), "")
	got := ev.next()
	if !strings.Contains(got, `{"h":"\u003cspan class=\"fg6\"\u003eFetching\u003c/span\u003e","s":"fetch","c":true}`) ||
		!strings.Contains(got, `{"h":"","e":"fetch"}`) || !strings.Contains(got, `"inside"`) {
		t.Errorf("stream with sections: %q", got)
	}
	_, body = c.get(t, "/acme/app/-/builds/1")
	wantContains(t, "build graph", body, `<svg class="graph"`, `class="node n-running"`, `class="node n-created"`,
		`<path class="edge" d="M180 21C208 21 208 21 236 21"/>`, "needs compile")
}
