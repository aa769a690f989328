package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/pipeline"
)

// fakeServer is a test double of a server's GitLab Runner API, answering
// as ../shared/protocols/README.md and its recordings say: jobs/request
// 201 or 204, PATCH trace 202 or 416 with Range, PUT 200, the runner
// token in the body, the job token in Job-Token.
type fakeServer struct {
	t           *testing.T
	srv         *httptest.Server
	runnerToken string

	mu       sync.Mutex
	queue    []map[string]any
	requests []*http.Request
	bodies   map[string][]map[string]any // decoded JSON bodies by "METHOD path"
	traces   map[int64][]byte
	patches  map[int64]int
	updates  map[int64][]Update
	// jobStatus is the Job-Status answered for a job.
	jobStatus map[int64]string
	// dropFirst makes the server lose this many bytes of the first PATCH
	// of each job (it answers 202 with a shorter Range).
	dropFirst int
	// done receives each job's final update.
	done chan Update
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, runnerToken: "glrt-runner", bodies: map[string][]map[string]any{},
		traces: map[int64][]byte{}, patches: map[int64]int{}, updates: map[int64][]Update{},
		jobStatus: map[int64]string{}, done: make(chan Update, 16)}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) add(job map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, job)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		if body["token"] != f.runnerToken {
			http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": 7, "token": f.runnerToken, "token_expires_at": "0001-01-01T00:00:00Z"})
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

func (f *fakeServer) request(w http.ResponseWriter, body map[string]any) {
	if body["token"] != f.runnerToken {
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

func jobToken(id int64) string { return fmt.Sprintf("job-token-%d", id) }

func (f *fakeServer) update(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	id := jobID(path)
	var u Update
	if err := json.Unmarshal(data, &u); err != nil || u.Token != jobToken(id) {
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

func (f *fakeServer) patch(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	id := jobID(path)
	if r.Header.Get("Job-Token") != jobToken(id) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.jobStatus[id]; st != "" {
		w.Header().Set("Job-Status", st)
	}
	have := len(f.traces[id])
	var start, end int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &start, &end); err != nil || start != have || end != start+len(data)-1 {
		w.Header().Set("Range", fmt.Sprintf("0-%d", have))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	if f.patches[id] == 0 && f.dropFirst > 0 {
		data = data[:max(len(data)-f.dropFirst, 0)]
	}
	f.patches[id]++
	f.traces[id] = append(f.traces[id], data...)
	w.Header().Set("Range", fmt.Sprintf("0-%d", len(f.traces[id])))
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeServer) trace(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.traces[id])
}

// final waits for a job's final update.
func (f *fakeServer) final(t *testing.T) Update {
	t.Helper()
	select {
	case u := <-f.done:
		return u
	case <-time.After(2 * time.Minute):
		t.Fatal("no final update within 2 minutes")
	}
	return Update{}
}

// document parses a pipeline file as a server would and keeps job name.
func document(t *testing.T, file, content, name string) json.RawMessage {
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

// jobJSON is a job as the server sends it; doc nil leaves out slipway's
// field, as a GitLab server would.
func jobJSON(id int64, doc json.RawMessage, git GitInfo, trusted bool, secrets map[string]string, vars ...Variable) map[string]any {
	job := map[string]any{
		"id": id, "token": jobToken(id), "allow_git_fetch": true,
		"job_info":    map[string]any{"name": "test", "stage": "test", "project_id": 1, "project_name": "project"},
		"git_info":    git,
		"runner_info": map[string]any{"timeout": 600},
		"variables":   append(vars, Variable{Key: "CI_JOB_TOKEN", Value: jobToken(id), Masked: true}),
		"steps":       []any{map[string]any{"name": "script", "script": []string{"true"}, "when": "on_success"}},
		"features":    map[string]any{"trace_sections": true},
	}
	if doc != nil {
		job["slipway"] = map[string]any{"document": doc, "secrets": secrets, "trusted": trusted, "event": "push"}
	}
	return job
}
