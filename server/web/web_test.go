package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

func TestSignInAndOut(t *testing.T) {
	s := startSite(t)
	anon := s.client(t, "")
	resp, err := anon.Get(s.url + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.Request.URL.Path != "/-/login" || resp.Request.URL.Query().Get("next") != "/acme/app" {
		t.Fatalf("a visitor is sent to %s, want the sign-in page with next=/acme/app", resp.Request.URL)
	}
	wantContains(t, "sign-in page", body, `<label for="token">API token</label>`, `name="next" value="/acme/app"`)

	if resp := anon.post(t, "/-/login", url.Values{"token": {"wrong"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", resp.StatusCode)
	}
	resp, err = anon.PostForm(s.url+"/-/login", url.Values{"token": {s.admin}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Request.URL.String() != s.url+"/" {
		t.Errorf("next=//evil.example/ led to %s, want this site's /", resp.Request.URL)
	}
	cookie := resp.Request.Response.Cookies()[0] // the 303's Set-Cookie
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	if code, body := anon.get(t, "/"); code != 200 || !strings.Contains(body, "admin (admin)") {
		t.Errorf("signed in: %d %s", code, body)
	}
	if resp := anon.post(t, "/-/logout", nil); resp.Request.URL.Path != "/-/login" {
		t.Errorf("sign out led to %s", resp.Request.URL)
	}
	if _, body := anon.get(t, "/"); !strings.Contains(body, `id="token"`) {
		t.Errorf("after signing out / shows:\n%s", body)
	}
}

func TestPages(t *testing.T) {
	s := startSite(t).withBuild(t)
	s.appendLog(t, s.jobs[0].ID, "\x1b[32mok\x1b[0m <compiled>\n")
	c := s.client(t, s.admin)

	code, body := c.get(t, "/")
	if code != 200 {
		t.Fatalf("repositories: %d", code)
	}
	wantContains(t, "repositories", body, `href="/acme/app"`, `st-running`, `/acme/app/-/builds/1`,
		`<label for="namespace">`, `<button type="submit">Add repository</button>`)

	_, body = c.get(t, "/acme/app")
	wantContains(t, "builds", body, `href="/acme/app/-/builds/1">#1</a>`, "refs/heads/main", "<code>0123456789</code>",
		"Fix the &lt;widget&gt;</td>", "alice", "running")

	_, body = c.get(t, "/acme/app/-/builds/1")
	wantContains(t, "build", body, `<h2 id="stage-0">build</h2>`, `<h2 id="stage-1">test</h2>`,
		fmt.Sprintf(`href="/acme/app/-/jobs/%d/log">compile</a>`, s.jobs[0].ID), "st-created")

	_, body = c.get(t, fmt.Sprintf("/acme/app/-/jobs/%d/log", s.jobs[0].ID))
	wantContains(t, "log", body, `<div class="line" id="L1"><a class="ln" href="#L1">1</a><span><span class="fg2">ok</span> &lt;compiled&gt;</span></div>`,
		`data-stream="/acme/app/-/jobs/`, `id="follow" aria-pressed="true"`)

	for path, want := range map[string]int{
		"/acme/nope": 404, "/acme/app/-/builds/9": 404, "/acme/app/-/builds/x": 404,
		"/acme/app/-/jobs/999/log": 404, "/-/static/style.css": 200, "/-/static/app.js": 200,
	} {
		if code, _ := c.get(t, path); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}

func TestRoutesBesideTheWeb(t *testing.T) {
	s := startSite(t).withBuild(t)
	req, _ := http.NewRequest("GET", s.url+"/acme/app.git/info/refs?service=git-upload-pack", nil)
	req.SetBasicAuth("x", s.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-git-upload-pack-advertisement" {
		t.Errorf("git info/refs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	req, _ = http.NewRequest("GET", s.url+"/api/user", nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"admin"`) {
		t.Errorf("/api/user: %d %s", resp.StatusCode, body)
	}
}

func TestWhoMayDoWhat(t *testing.T) {
	s := startSite(t).withBuild(t)
	if _, err := s.st.CreateUser(context.Background(), store.User{Login: "bob"}, "bob-token"); err != nil {
		t.Fatal(err)
	}
	bob := s.client(t, "bob-token")
	if code, body := bob.get(t, "/"); code != 200 || strings.Contains(body, "acme/app") || strings.Contains(body, "Add repository") {
		t.Errorf("bob's repositories page shows another's repository or the add form:\n%s", body)
	}
	if resp := bob.post(t, "/-/repos", url.Values{"namespace": {"bob"}, "name": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob adds a repository: %d, want 403", resp.StatusCode)
	}
	for _, path := range []string{"/acme/app", "/acme/app/-/builds/1", fmt.Sprintf("/acme/app/-/jobs/%d/log/stream", s.jobs[0].ID)} {
		if code, _ := bob.get(t, path); code != 404 {
			t.Errorf("bob GET %s: %d, want 404", path, code)
		}
	}
	admin := s.client(t, s.admin)
	if resp := admin.post(t, "/-/repos", url.Values{"namespace": {"acme"}, "name": {"app"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("adding acme/app again: %d, want 409", resp.StatusCode)
	}
	if resp := admin.post(t, "/-/repos", url.Values{"namespace": {".x"}, "name": {"y"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("adding .x/y: %d, want 400", resp.StatusCode)
	}
}

// A 100,000-line log opens with only its end, quickly; "show earlier"
// pages back with the right line numbers.
func TestLongLogIsPaged(t *testing.T) {
	s := startSite(t).withBuild(t)
	var b strings.Builder
	for i := 1; i <= 100000; i++ {
		fmt.Fprintf(&b, "line %d \x1b[1mbold\x1b[0m\n", i)
	}
	s.appendLog(t, s.jobs[0].ID, b.String())
	s.finish(t, s.jobs[0].ID)
	c := s.client(t, s.admin)
	path := fmt.Sprintf("/acme/app/-/jobs/%d/log", s.jobs[0].ID)
	start := time.Now()
	code, body := c.get(t, path)
	took := time.Since(start)
	if code != 200 || took > time.Second || len(body) > 300<<10 {
		t.Fatalf("the long log page: %d, %d bytes in %v; want 200, under 300 KB, under 1 s", code, len(body), took)
	}
	wantContains(t, "the long log's end", body, `id="L100000"`, "line 100000 ", `Show earlier lines`)
	if strings.Contains(body, `id="L1"`) || strings.Contains(body, "data-stream") {
		t.Errorf("the log's end shows its first line or streams a finished job")
	}
	_, body = c.get(t, path+"?from=0")
	wantContains(t, "the whole log", body, `id="L1"><a class="ln" href="#L1">1</a><span>line 1 <span class="b">bold</span></span>`, `id="L100000"`)
}
