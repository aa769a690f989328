// Package agenttest is a test double of a server's GitLab Runner API and
// a git server over HTTP, for the tests of the runner agent (in agent/
// and in e2e/, which runs the slipway binary against them).
package agenttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/pipeline"
)

// The double declares its own wire types rather than using the agent's,
// so that a wrong JSON name in the agent fails the tests.

// Update is the body of PUT jobs/:id.
type Update struct {
	Token         string `json:"token"`
	State         string `json:"state"`
	FailureReason string `json:"failure_reason"`
	ExitCode      *int   `json:"exit_code"`
	Checksum      string `json:"checksum"`
	Output        *struct {
		Checksum string `json:"checksum"`
		Bytesize int    `json:"bytesize"`
	} `json:"output"`
}

// Git is a job's git_info.
type Git struct {
	RepoURL  string   `json:"repo_url"`
	Ref      string   `json:"ref"`
	Sha      string   `json:"sha"`
	RefType  string   `json:"ref_type"`
	Refspecs []string `json:"refspecs"`
	Depth    int      `json:"depth"`
}

// Variable is one of a job's variables.
type Variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
}

// SetJobStatus makes the answers about job id carry Job-Status: st.
func (f *Server) SetJobStatus(id int64, st string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobStatus[id] = st
}

// Bodies are the JSON bodies received for "METHOD path" (path below
// /api/v4/).
func (f *Server) Bodies(key string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies[key]...)
}

// Requests are the requests received, in order.
func (f *Server) Requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

// Patches counts the PATCHes of job id's trace the server took.
func (f *Server) Patches(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patches[id]
}

// Updates are job id's PUTs, in order.
func (f *Server) Updates(id int64) []Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Update(nil), f.updates[id]...)
}

// Queued counts the jobs not taken yet.
func (f *Server) Queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// Server is a test double of a server's GitLab Runner API, answering
// as ../shared/protocols/README.md and its recordings say: jobs/request
// 201 or 204, PATCH trace 202 or 416 with Range, PUT 200, the runner
// token in the body, the job token in Job-Token.
type Server struct {
	srv *httptest.Server
	// URL is the server's base URL; RunnerToken the glrt- token it knows.
	URL, RunnerToken string

	mu        sync.Mutex
	queue     []map[string]any
	requests  []*http.Request
	bodies    map[string][]map[string]any // decoded JSON bodies by "METHOD path"
	traces    map[int64][]byte
	patches   map[int64]int
	updates   map[int64][]Update
	jobStatus map[int64]string
	// DropFirst makes the server lose this many bytes of the first PATCH
	// of each job (it answers 202 with a shorter Range).
	DropFirst int
	// FailPatches makes the next this many PATCHes answer 503.
	FailPatches int
	// done receives each job's final update.
	done chan Update
}

// NewServer starts a server, closed when the test ends.
func NewServer(t testing.TB) *Server {
	f := &Server{RunnerToken: "glrt-runner", bodies: map[string][]map[string]any{},
		traces: map[int64][]byte{}, patches: map[int64]int{}, updates: map[int64][]Update{},
		jobStatus: map[int64]string{}, done: make(chan Update, 16)}
	f.srv = httptest.NewServer(f)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Add queues a job for jobs/request.
func (f *Server) Add(job map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, job)
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.Path, "/api/v4/")
	f.mu.Lock()
	f.requests = append(f.requests, r)
	var body map[string]any
	if json.Unmarshal(data, &body) == nil {
		key := r.Method + " " + path
		f.bodies[key] = append(f.bodies[key], body)
	}
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && path == "runners/verify":
		if body["token"] != f.RunnerToken {
			http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": 7, "token": f.RunnerToken, "token_expires_at": "0001-01-01T00:00:00Z"})
	case r.Method == http.MethodPost && path == "runners":
		if body["token"] != "REGTOKEN" {
			http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": 8, "token": "glrt-issued"})
	case r.Method == http.MethodPost && path == "jobs/request":
		f.request(w, body)
	case r.Method == http.MethodPut && strings.HasPrefix(path, "jobs/"):
		f.update(w, r, path, data)
	case r.Method == http.MethodPatch && strings.HasSuffix(path, "/trace"):
		f.patch(w, r, path, data)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Server) request(w http.ResponseWriter, body map[string]any) {
	if body["token"] != f.RunnerToken {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	var job map[string]any
	if len(f.queue) > 0 {
		job, f.queue = f.queue[0], f.queue[1:]
	}
	f.mu.Unlock()
	if job == nil {
		time.Sleep(50 * time.Millisecond) // a short long poll
		w.Header().Set("X-GitLab-Last-Update", "1")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusCreated, job)
}

func jobID(path string) int64 {
	parts := strings.Split(path, "/")
	id, _ := strconv.ParseInt(parts[1], 10, 64)
	return id
}

// JobToken is job id's token.
func JobToken(id int64) string { return fmt.Sprintf("job-token-%d", id) }

func (f *Server) update(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	id := jobID(path)
	var u Update
	if err := json.Unmarshal(data, &u); err != nil || u.Token != JobToken(id) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	f.updates[id] = append(f.updates[id], u)
	st := f.jobStatus[id]
	f.mu.Unlock()
	if st != "" {
		w.Header().Set("Job-Status", st)
	}
	w.WriteHeader(http.StatusOK)
	if u.State != "running" {
		f.done <- u
	}
}

func (f *Server) patch(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	id := jobID(path)
	if r.Header.Get("Job-Token") != JobToken(id) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.jobStatus[id]; st != "" {
		w.Header().Set("Job-Status", st)
	}
	if f.FailPatches > 0 {
		f.FailPatches--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	have := len(f.traces[id])
	var start, end int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &start, &end); err != nil || start != have || end != start+len(data)-1 {
		w.Header().Set("Range", fmt.Sprintf("0-%d", have))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	if f.patches[id] == 0 && f.DropFirst > 0 {
		data = data[:max(len(data)-f.DropFirst, 0)]
	}
	f.patches[id]++
	f.traces[id] = append(f.traces[id], data...)
	w.Header().Set("Range", fmt.Sprintf("0-%d", len(f.traces[id])))
	w.WriteHeader(http.StatusAccepted)
}

// Trace is what the server holds of job id's log.
func (f *Server) Trace(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.traces[id])
}

// Final waits for a job's final update.
func (f *Server) Final(t testing.TB) Update {
	t.Helper()
	select {
	case u := <-f.done:
		return u
	case <-time.After(2 * time.Minute):
		t.Fatal("no final update within 2 minutes")
	}
	return Update{}
}

// Document parses a pipeline file as a server would and keeps the job
// name, in the wire form a job carries.
func Document(t testing.TB, file, content, name string) json.RawMessage {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "group", "project")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := dialect.Load(path, dialect.Options{ProjectPath: "group/project"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Select([]string{name}); err != nil {
		t.Fatal(err)
	}
	d, err := pipeline.NewDocument(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Job is a job as the server sends it; doc nil leaves out slipway's
// field, as a GitLab server would.
func Job(id int64, doc json.RawMessage, git Git, trusted bool, secrets map[string]string, vars ...Variable) map[string]any {
	job := map[string]any{
		"id": id, "token": JobToken(id), "allow_git_fetch": true,
		"job_info":    map[string]any{"name": "test", "stage": "test", "project_id": 1, "project_name": "project"},
		"git_info":    git,
		"runner_info": map[string]any{"timeout": 600},
		"variables":   append(vars, Variable{Key: "CI_JOB_TOKEN", Value: JobToken(id), Masked: true}),
		"steps":       []any{map[string]any{"name": "script", "script": []string{"true"}, "when": "on_success"}},
		"features":    map[string]any{"trace_sections": true},
	}
	if doc != nil {
		job["slipway"] = map[string]any{"document": doc, "secrets": secrets, "trusted": trusted, "event": "push"}
	}
	return job
}

// GitServer serves bare repositories under root with git's smart HTTP
// protocol (git http-backend), asking for gitlab-ci-token and the one
// job token it accepts.
func GitServer(t testing.TB, root string, tokens ...string) *httptest.Server {
	t.Helper()
	exe, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(exe)), "git-http-backend"),
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		for _, tok := range tokens {
			if ok && user == "gitlab-ci-token" && pass == tok {
				backend.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// GitRepo makes group/project.git under root with one commit holding
// files, and returns the commit.
func GitRepo(t testing.TB, root string, files map[string]string) string {
	t.Helper()
	src := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(src, "init", "-q", "-b", "main")
	git(src, "add", ".")
	git(src, "commit", "-q", "-m", "first")
	git(src, "clone", "-q", "--bare", src, filepath.Join(root, "group", "project.git"))
	return git(src, "rev-parse", "HEAD")
}
