package gitlabapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/store"
)

// TestConcurrentRequests: 16 runners polling at once get 16 distinct jobs.
func TestConcurrentRequests(t *testing.T) { testConcurrentRequests(t, newEnv(t)) }

func testConcurrentRequests(t *testing.T, e *env) {
	var yml strings.Builder
	for i := range 16 {
		fmt.Fprintf(&yml, "job%d:\n  script: [\"true\"]\n", i)
	}
	e.queueGitLab(yml.String())
	var mu sync.Mutex
	got := map[int64]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			r := e.request()
			var j runnerJob
			if r.status == http.StatusCreated && json.Unmarshal(r.body, &j) == nil {
				mu.Lock()
				got[j.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 16 {
		t.Fatalf("16 concurrent polls got %d distinct jobs, want 16", len(got))
	}
	e.request().want(t, http.StatusNoContent, "a 17th poll")
}

// TestLongPollWakes: a waiting jobs/request answers soon after a job is
// queued, not at the end of its poll; a finished job wakes the waiters for
// the jobs that needed it at once.
func TestLongPollWakes(t *testing.T) {
	e := newEnv(t)
	o := e.h.o
	o.PollTimeout = 5 * time.Second
	e.serve(o)
	start := time.Now()
	go func() {
		time.Sleep(200 * time.Millisecond)
		e.queueGitLab("stages: [a, b]\nfirst:\n  stage: a\n  script: [\"true\"]\nsecond:\n  stage: b\n  script: [\"true\"]\n")
	}()
	first := e.take()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the poll answered %v after it started, 200 ms after the job was queued", d)
	}
	e.h.retry = time.Hour // only the finish can wake the next poll now
	done := make(chan runnerJob)
	go func() { done <- e.take() }()
	time.Sleep(100 * time.Millisecond)
	e.put(first, "success").want(t, http.StatusOK, "success")
	select {
	case second := <-done:
		if second.JobInfo.Name != "second" {
			t.Fatalf("got job %q, want second", second.JobInfo.Name)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("finishing a job did not wake the poll waiting for the next")
	}
}

// TestGitLabJobShape: a GitLab job is translated into GitLab's steps,
// image and services.
func TestGitLabJobShape(t *testing.T) {
	e := newEnv(t)
	e.queueGitLab(`
variables:
  GREETING: hello
build:
  image:
    name: debian:bookworm
    entrypoint: [""]
    pull_policy: [if-not-present, always]
  services:
    - redis:7.0
    - name: postgres:15
      alias: db
      entrypoint: ["docker-entrypoint.sh"]
      command: ["postgres", "-c", "fsync=off"]
  before_script: [echo before]
  script: [echo one, echo two]
  after_script: [echo after]
  timeout: 10m
`)
	j := e.take()
	wantSteps := fmt.Sprint([]any{"script", []string{"echo before", "echo one", "echo two"}, "on_success",
		"after_script", []string{"echo after"}, "always"})
	var steps []any
	for _, s := range j.Steps {
		steps = append(steps, s.Name, s.Script, s.When)
		if s.Timeout != 600 {
			t.Fatalf("step %s timeout %d, want 600", s.Name, s.Timeout)
		}
	}
	if fmt.Sprint(steps) != wantSteps || j.RunnerInfo.Timeout != 600 {
		t.Fatalf("steps %v (timeout %d), want %v", steps, j.RunnerInfo.Timeout, wantSteps)
	}
	im := j.Image
	if im.Name != "debian:bookworm" || !slices.Equal(im.Entrypoint, []string{""}) ||
		!slices.Equal(im.PullPolicy, []string{"if-not-present", "always"}) {
		t.Fatalf("image %+v", im)
	}
	if len(j.Services) != 2 {
		t.Fatalf("services %+v", j.Services)
	}
	redis, pg := j.Services[0], j.Services[1]
	if redis.Name != "redis:7.0" || redis.Alias != "" {
		t.Fatalf("redis service %+v: want no alias of its own", redis)
	}
	if pg.Name != "postgres:15" || pg.Alias != "db" || !slices.Equal(pg.Entrypoint, []string{"docker-entrypoint.sh"}) ||
		!slices.Equal(pg.Command, []string{"postgres", "-c", "fsync=off"}) {
		t.Fatalf("postgres service %+v", pg)
	}
	if v, _, _ := j.variable("GREETING"); v != "hello" {
		t.Fatalf("GREETING %q: want the file's variable", v)
	}
	if v, _, ok := j.variable("CI_PROJECT_DIR"); ok {
		t.Fatalf("CI_PROJECT_DIR %q is sent: the runner sets it for its executor", v)
	}
	if v, _, _ := j.variable("CI_JOB_ID"); v != fmt.Sprint(j.ID) {
		t.Fatalf("CI_JOB_ID %q, want the server's job id %d", v, j.ID)
	}
}

// TestDroneJob: a Drone pipeline reaches a stock runner as one failing
// step that says why, and slipway's runner as its document.
func TestDroneJob(t *testing.T) {
	e := newEnv(t)
	jobs := e.queueDrone("kind: pipeline\nname: default\nsteps:\n- name: test\n  image: busybox:1.35\n  commands: [echo hi]\n")
	j := e.take()
	if len(j.Steps) != 1 || !slices.Contains(j.Steps[0].Script, "exit 1") ||
		!strings.Contains(strings.Join(j.Steps[0].Script, "\n"), "is a Drone pipeline (.drone.yml): only a slipway runner") {
		t.Fatalf("steps %+v: want one that fails saying only slipway's runner can run it", j.Steps)
	}
	doc, err := pipeline.DecodeDocument(j.Slipway.Document)
	if err != nil || doc.Pipeline.Dialect != pipeline.Drone || string(j.Slipway.Document) != string(jobs[0].Document) {
		t.Fatalf("slipway.document %s (%v): want the stored Drone document", j.Slipway.Document, err)
	}
}

// TestRunnerTags: a runner takes only the jobs its tags allow.
func TestRunnerTags(t *testing.T) {
	e := newEnv(t)
	e.queueGitLab("gpu:\n  tags: [gpu]\n  script: [\"true\"]\n")
	e.request().want(t, http.StatusNoContent, "untagged runner, tagged job")
	reg := e.do("POST", "/api/v4/runners", map[string]any{"token": regToken, "tag_list": "gpu, linux"}).
		want(t, http.StatusCreated, "registration with tags")
	var run registered
	check(t, json.Unmarshal(reg.body, &run))
	r := e.do("POST", "/api/v4/jobs/request", map[string]any{"token": run.Token}).want(t, http.StatusCreated, "gpu runner")
	var j runnerJob
	check(t, json.Unmarshal(r.body, &j))
	if j.JobInfo.Name != "gpu" {
		t.Fatalf("got %q", j.JobInfo.Name)
	}
}

// TestUnregister: DELETE runners removes the runner; DELETE
// runners/managers and reset_authentication_token keep its token.
func TestUnregister(t *testing.T) {
	e := newEnv(t)
	tok := map[string]string{"token": runnerTok, "system_id": "s_1"}
	e.do("DELETE", "/api/v4/runners/managers", tok).want(t, http.StatusNoContent, "unregister a manager")
	r := e.do("POST", "/api/v4/runners/reset_authentication_token", tok).want(t, http.StatusCreated, "reset")
	var got registered
	check(t, json.Unmarshal(r.body, &got))
	if got.Token != runnerTok || got.TokenExpiresAt != noExpiry {
		t.Fatalf("reset answer %s: want the same token, never expiring", r.body)
	}
	e.do("POST", "/api/v4/runners/verify", tok).want(t, http.StatusOK, "verify after unregistering a manager")
	e.do("DELETE", "/api/v4/runners", tok).want(t, http.StatusNoContent, "unregister")
	e.do("POST", "/api/v4/runners/verify", tok).want(t, http.StatusForbidden, "verify after unregistering")
	e.do("DELETE", "/api/v4/runners", tok).want(t, http.StatusForbidden, "unregister twice")
	e.do("DELETE", "/api/v4/runners/managers", tok).want(t, http.StatusForbidden, "unregister a manager of no runner")
}

// TestBadInput: each bad request gets a 4xx with a one-line reason, and
// nothing is stored.
func TestBadInput(t *testing.T) { testBadInput(t, newEnv(t)) }

func testBadInput(t *testing.T, e *env) {
	e.queueGitLab(oneJob)
	j := e.take()
	id := fmt.Sprint(j.ID)
	huge := strings.Repeat("x", maxTraceBody+1)
	for _, tc := range []struct {
		what, method, path string
		body               any
		status             int
		headers            []string
	}{
		{"malformed JSON", "POST", "/jobs/request", "{token:", http.StatusBadRequest, nil},
		{"unknown runner token", "POST", "/jobs/request", map[string]string{"token": "glrt-nope"}, http.StatusForbidden, nil},
		{"no runner token", "POST", "/jobs/request", nil, http.StatusForbidden, nil},
		{"wrong registration token", "POST", "/runners", map[string]string{"token": "guess"}, http.StatusForbidden, nil},
		{"huge JSON body", "POST", "/runners", `{"token":"` + huge + `"}`, http.StatusRequestEntityTooLarge, nil},
		{"unknown job token", "PUT", "/jobs/" + id, map[string]string{"token": "glcbt-nope", "state": "success"}, http.StatusForbidden, nil},
		{"another job's id", "PUT", "/jobs/999", map[string]string{"token": j.Token, "state": "success"}, http.StatusForbidden, nil},
		{"unknown state", "PUT", "/jobs/" + id, map[string]string{"token": j.Token, "state": "exploded"}, http.StatusBadRequest, nil},
		{"trace without token", "PATCH", "/jobs/" + id + "/trace", "x", http.StatusForbidden, []string{"Content-Range", "0-0"}},
		{"trace without range", "PATCH", "/jobs/" + id + "/trace", "x", http.StatusBadRequest, []string{"JOB-TOKEN", j.Token}},
		{"trace range and body differ", "PATCH", "/jobs/" + id + "/trace", "xyz", http.StatusBadRequest,
			[]string{"JOB-TOKEN", j.Token, "Content-Range", "0-9"}},
		{"trace body longer than its range", "PATCH", "/jobs/" + id + "/trace", strings.Repeat("y", 20), http.StatusBadRequest,
			[]string{"JOB-TOKEN", j.Token, "Content-Range", "0-9"}},
		{"huge trace", "PATCH", "/jobs/" + id + "/trace", huge, http.StatusRequestEntityTooLarge,
			[]string{"JOB-TOKEN", j.Token, "Content-Range", fmt.Sprintf("0-%d", len(huge)-1)}},
		{"huge trace, small range", "PATCH", "/jobs/" + id + "/trace", huge, http.StatusRequestEntityTooLarge,
			[]string{"JOB-TOKEN", j.Token, "Content-Range", "0-9"}},
		{"unknown call", "GET", "/jobs/" + id + "/nothing", nil, http.StatusNotFound, nil},
	} {
		r := e.do(tc.method, "/api/v4"+tc.path, tc.body, tc.headers...)
		var m message
		if r.status != tc.status || json.Unmarshal(r.body, &m) != nil || m.Message == "" || strings.Contains(m.Message, "\n") {
			t.Errorf("%s: %d %s, want %d with a one-line message", tc.what, r.status, r.body, tc.status)
		}
	}
	if got := e.job(j.ID); got.Status != store.JobRunning || got.LogLength != 0 {
		t.Fatalf("after bad requests the job is %s with %d log bytes; want running, empty", got.Status, got.LogLength)
	}
	if runners := must(e.st.ListRunners(t.Context()))(t); len(runners) != 1 {
		t.Fatalf("%d runners after bad registrations, want 1", len(runners))
	}
}

// TestBrokenDocument: a job whose document cannot be sent is failed with
// the reason, and the poll goes on to the next job.
func TestBrokenDocument(t *testing.T) {
	e := newEnv(t)
	_, bad, err := e.st.CreateBuild(t.Context(), store.Build{RepoID: e.repo.ID, Event: "push", Ref: "refs/heads/main"},
		[]store.Job{{Name: "broken", Document: []byte(`{"pipeline":null}`)}})
	check(t, err)
	e.queueGitLab(oneJob)
	if j := e.take(); j.JobInfo.Name != "job" {
		t.Fatalf("got %q, want the good job", j.JobInfo.Name)
	}
	if got := e.job(bad[0].ID); got.Status != store.JobFailed || !strings.Contains(got.FailureReason, "no pipeline") {
		t.Fatalf("broken job %s (%q): want failed, saying why", got.Status, got.FailureReason)
	}
}

// TestMountedWithoutPrefix: the handler also serves when the server strips
// /api/v4 before calling it.
func TestMountedWithoutPrefix(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/api/v4/", http.StripPrefix("/api/v4", e.h))
	e.srv.Config.Handler = mux
	e.do("POST", "/api/v4/runners/verify", map[string]string{"token": runnerTok}).want(t, http.StatusOK, "verify")
}
