package web_test

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server"
	"github.com/slipway-ci/slipway/server/store"
)

// site is a real slipway server on a loopback port, SQLite in a
// temporary directory, with a repository acme/app whose build 1 has a
// running job (compile, stage build) and a waiting one (unit, stage test).
type site struct {
	url    string
	st     store.Store
	admin  string // the administrator's API token
	runner int64
	build  store.Build
	jobs   []store.Job
}

func startSite(t *testing.T) *site {
	t.Helper()
	dir := t.TempDir()
	s, err := server.Open(context.Background(), server.Options{DataDir: dir, Log: io.Discard})
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	token, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return &site{url: "http://" + ln.Addr().String(), st: s.Store(), admin: strings.TrimSpace(string(token))}
}

// withBuild adds acme/app (as the administrator, through the form), a
// build with two jobs, and claims the first so that it runs.
func (s *site) withBuild(t *testing.T) *site {
	t.Helper()
	return s.withJobs(t,
		store.Job{Name: "compile", Stage: "build", Document: []byte("{}")},
		store.Job{Name: "unit", Stage: "test", Needs: []string{"compile"}, Document: []byte("{}")})
}

// withJobs adds acme/app (as the administrator, through the form), a
// build of jobs, and a runner that claims the first job.
func (s *site) withJobs(t *testing.T, jobs ...store.Job) *site {
	t.Helper()
	c := s.client(t, s.admin)
	resp := c.post(t, "/-/repos", url.Values{"namespace": {"acme"}, "name": {"app"}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/acme/app" {
		t.Fatalf("add repository: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	ctx := context.Background()
	repo, err := s.st.Repo(ctx, "acme", "app")
	if err != nil {
		t.Fatal(err)
	}
	s.build, s.jobs, err = s.st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: "push", Sender: "alice",
		Ref: "refs/heads/main", Commit: "0123456789abcdef0123456789abcdef01234567", Message: "Fix the <widget>\n\nbody"},
		jobs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.st.CreateRunner(ctx, store.Runner{Description: "test", RunUntagged: true}, "glrt-test")
	if err != nil {
		t.Fatal(err)
	}
	s.runner = r.ID
	if _, err := s.st.Claim(ctx, r.ID, nil, true, time.Hour); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *site) appendLog(t *testing.T, jobID int64, text string) {
	t.Helper()
	ctx := context.Background()
	job, err := s.st.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.AppendLog(ctx, jobID, job.LogLength, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

func (s *site) finish(t *testing.T, jobID int64) {
	t.Helper()
	if err := s.st.Finish(context.Background(), jobID, s.runner, store.Result{Status: store.JobSuccess}); err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar, signed in with token
// (none when token is empty).
type browser struct {
	*http.Client
	base string
	csrf string // the session's form token, which post adds
}

func (s *site) client(t *testing.T, token string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{Client: &http.Client{Jar: jar, Timeout: 20 * time.Second}, base: s.url}
	if token != "" {
		if resp := b.post(t, "/-/login", url.Values{"token": {token}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		_, body := b.get(t, "/")
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no form token in /:\n%s", body)
		}
		b.csrf = m[1]
	}
	return b
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// session is the browser's session cookie.
func (b *browser) session(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(b.base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "slipway_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func (b *browser) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	if b.csrf != "" && !form.Has("csrf") {
		form = maps.Clone(form)
		if form == nil {
			form = url.Values{}
		}
		form.Set("csrf", b.csrf)
	}
	resp, err := b.PostForm(b.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp
}

// get answers the status and the body of a page.
func (b *browser) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := b.Get(b.base + path)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func wantContains(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, body)
		}
	}
}
