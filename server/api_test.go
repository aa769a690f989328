package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/slipway-ci/slipway/server/store"
)

func TestVariables(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/vars")
	for _, body := range []string{`{"name":"PLAIN","value":"shown"}`, `{"name":"HIDDEN","value":"never-shown","masked":true}`} {
		if code, out := ts.call(t, "POST", "/api/repos/octo/vars/variables", ts.admin, body); code != 200 || strings.Contains(out, "never-shown") {
			t.Fatalf("add %s: %d %s", body, code, out)
		}
	}
	code, out := ts.call(t, "GET", "/api/repos/octo/vars/variables", ts.admin, "")
	if code != 200 || strings.Contains(out, "never-shown") || !strings.Contains(out, `"value":"shown"`) || !strings.Contains(out, `"masked":true`) {
		t.Errorf("list: %d %s", code, out)
	}
	stored, _ := ts.st.ListVariables(context.Background(), repo.ID)
	if len(stored) != 2 {
		t.Errorf("stored %+v", stored)
	}
	if code, out := ts.call(t, "DELETE", "/api/repos/octo/vars/variables/HIDDEN", ts.admin, ""); code != 204 {
		t.Errorf("delete: %d %s", code, out)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/vars/variables", ts.admin, `{"value":"x"}`); code != 400 || !strings.Contains(out, "needs a name") {
		t.Errorf("no name: %d %s", code, out)
	}
	_, other := ts.user(t, "mallory")
	if code, _ := ts.call(t, "GET", "/api/repos/octo/vars/variables", other, ""); code != 403 {
		t.Errorf("a stranger lists variables: %d", code)
	}
}

func TestStartAndCancelBuild(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/start", ".gitlab-ci.yml", gitlabFile)
	code, out := ts.call(t, "POST", "/api/repos/octo/start/builds", ts.admin, `{"ref":"main"}`)
	if code != 201 || !strings.Contains(out, `"number":2`) || !strings.Contains(out, builds[0].Commit) {
		t.Fatalf("start: %d %s", code, out)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/start/builds", ts.admin, `{}`); code != 201 || !strings.Contains(out, `"ref":"refs/heads/main"`) {
		t.Errorf("start on the default branch: %d %s", code, out)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/start/builds", ts.admin, `{"ref":"nope"}`); code != 404 || !strings.Contains(out, "no branch or tag nope") {
		t.Errorf("start an unknown ref: %d %s", code, out)
	}

	// Build 1: its first job runs on a runner (the oldest claimable), the
	// others wait.
	ctx := context.Background()
	rn, _ := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-cancel")
	claimed, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/start/builds/1/cancel", ts.admin, ""); code != 200 || !strings.Contains(out, `"status":"killed"`) {
		t.Errorf("cancel: %d %s", code, out)
	}
	job, err := ts.st.Renew(ctx, claimed.Job.ID, rn.ID, time.Minute)
	if err != nil || !job.CancelRequested {
		t.Errorf("the running job is not asked to stop: %+v %v", job, err)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/start/builds/9/cancel", ts.admin, ""); code != 404 || !strings.Contains(out, "no build 9") {
		t.Errorf("cancel a missing build: %d %s", code, out)
	}
}

type sseEvent struct{ id, name, data string }

// readEvents reads server-sent events until stop says so.
func readEvents(t *testing.T, resp *http.Response, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				out = append(out, ev)
				if stop(ev) {
					return out
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		case strings.HasPrefix(line, ":"):
			out = append(out, sseEvent{name: "comment"})
		}
	}
	t.Fatalf("the stream ended before the events expected: %v (%+v)", sc.Err(), out)
	return nil
}

func (ts *testServer) stream(t *testing.T, path, lastID string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.admin)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("X-Accel-Buffering") != "no" || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %s %v", resp.Status, resp.Header)
	}
	return resp
}

func decoded(t *testing.T, evs []sseEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.name == "log" {
			var s string
			if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
				t.Fatalf("event data %q: %v", ev.data, err)
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// runningJob pushes gitlabFile to a new repository and has a runner claim
// build 1's first job, compile.
func (ts *testServer) runningJob(t *testing.T, slug string) (store.Claimed, store.Runner) {
	t.Helper()
	_, builds := ts.pushFile(t, slug, ".gitlab-ci.yml", gitlabFile)
	ctx := context.Background()
	rn, err := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-"+slug)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute)
	if err != nil || c.Job.BuildID != builds[0].ID || c.Job.Name != "compile" {
		t.Fatalf("claimed %+v, %v: want compile of build 1", c.Job, err)
	}
	return c, rn
}

// TestLogStream follows a running job's log as it grows, resumes from the
// last event's id, and ends when the job does.
func TestLogStream(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	c, rn := ts.runningJob(t, "octo/live")
	ts.st.AppendLog(ctx, c.Job.ID, 0, []byte("one\n"))
	resp := ts.stream(t, "/api/repos/octo/live/builds/1/logs/compile/stream", "")
	first := readEvents(t, resp, func(e sseEvent) bool { return e.name == "log" })
	// Appended after the stream opened: it must arrive live.
	ts.st.AppendLog(ctx, c.Job.ID, 4, []byte("two\n"))
	second := readEvents(t, resp, func(e sseEvent) bool { return e.name == "log" })
	if got := decoded(t, append(first, second...)); got != "one\ntwo\n" || second[len(second)-1].id != "8" {
		t.Errorf("live events %+v: log %q", append(first, second...), got)
	}
	resp.Body.Close()

	ts.st.AppendLog(ctx, c.Job.ID, 8, []byte("three \"quoted\"\n"))
	if err := ts.st.Finish(ctx, c.Job.ID, rn.ID, store.Result{Status: store.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	resumed := readEvents(t, ts.stream(t, "/api/repos/octo/live/builds/1/logs/1/stream", "8"), func(e sseEvent) bool { return e.name == "end" })
	if got := decoded(t, resumed); got != "three \"quoted\"\n" || resumed[len(resumed)-1].data != `"success"` {
		t.Errorf("resumed events %+v: log %q", resumed, got)
	}
	if code, out := ts.call(t, "GET", "/api/repos/octo/live/builds/1/logs/nope/stream", ts.admin, ""); code != 404 || !strings.Contains(out, "no job nope") {
		t.Errorf("unknown job: %d %s", code, out)
	}
	if code, _ := ts.call(t, "GET", "/api/repos/octo/live/builds/1/logs/1/stream?offset=x", ts.admin, ""); code != 400 {
		t.Errorf("bad offset: %d", code)
	}
}

// TestLogStreamKeepAlive: a quiet job's stream sends comments, so proxies
// and clients do not take it for dead.
func TestLogStreamKeepAlive(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/quiet", ".gitlab-ci.yml", gitlabFile)
	jobs, _ := ts.st.Jobs(context.Background(), builds[0].ID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := &flushRecorder{header: http.Header{}}
	e := &eventWriter{w: rec, rc: http.NewResponseController(rec)}
	err := ts.followLog(ctx, e, jobs[0].ID, 0, 300*time.Millisecond)
	if n := strings.Count(rec.String(), ": keep-alive\n\n"); err == nil || n < 5 || rec.flushes < n {
		t.Errorf("in 5 s with a keep-alive every 0.3 s: %d comments, %d flushes, %v", n, rec.flushes, err)
	}
}

type flushRecorder struct {
	strings.Builder
	header  http.Header
	flushes int
}

func (f *flushRecorder) Header() http.Header { return f.header }
func (f *flushRecorder) WriteHeader(int)     {}
func (f *flushRecorder) Flush()              { f.flushes++ }

// TestMetrics scrapes /metrics with Prometheus' own parser after a claim
// and a log append through the store the runner API is given.
func TestMetrics(t *testing.T) {
	var runnerStore store.Store
	ts := startServer(t, Options{RunnerAPI: func(st store.Store, _ store.Sealer, _ string) http.Handler {
		runnerStore = st
		return http.NotFoundHandler()
	}})
	ts.call(t, "GET", "/api/v4/x", "", "") // Serve made the handler
	_, _ = ts.pushFile(t, "octo/metrics", ".gitlab-ci.yml", gitlabFile)
	ctx := context.Background()
	rn, _ := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-m")
	ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-silent")
	ts.st.TouchRunner(ctx, rn.ID, time.Now())
	c, err := runnerStore.Claim(ctx, rn.ID, nil, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	runnerStore.AppendLog(ctx, c.Job.ID, 0, []byte("12345"))

	code, body := ts.call(t, "GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name, status string) string {
		f := fams[name]
		if f == nil {
			return "missing"
		}
		for _, m := range f.Metric {
			if len(m.Label) > 0 && m.Label[0].GetValue() != status {
				continue
			}
			switch {
			case m.Gauge != nil:
				return fmt.Sprint(m.Gauge.GetValue())
			case m.Counter != nil:
				return fmt.Sprint(m.Counter.GetValue())
			case m.Histogram != nil:
				return fmt.Sprint(m.Histogram.GetSampleCount())
			}
		}
		return "no sample"
	}
	// gitlabFile: compile and lint (needs: []) pending, compile claimed;
	// unit, ship and manual-deploy wait.
	want := map[string]string{
		"slipway_queue_depth": "1", "slipway_jobs/running": "1", "slipway_jobs/created": "3",
		"slipway_runners_connected": "1", "slipway_log_bytes_total": "5", "slipway_claim_duration_seconds": "1",
	}
	for key, v := range want {
		name, status, _ := strings.Cut(key, "/")
		if got := value(name, status); got != v {
			t.Errorf("%s = %s, want %s", key, got, v)
		}
	}
}

// TestLogStreamEndsOnShutdown: an open stream does not hold the server's
// graceful shutdown up (it would wait 10 s, then cut every request).
func TestLogStreamEndsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	s, addr, stop := serve(t, Options{DataDir: dir, Log: io.Discard})
	defer s.Close()
	ts := &testServer{Server: s, url: "http://" + addr, dir: dir}
	token, _ := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	ts.admin = strings.TrimSpace(string(token))
	ts.pushFile(t, "octo/open", ".gitlab-ci.yml", gitlabFile)
	resp := ts.stream(t, "/api/repos/octo/open/builds/1/logs/1/stream", "")
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown with an open stream took %s", d)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}

// TestLogStreamWholeCharacters: a character the runner's uploads cut in
// two reaches the client whole.
func TestLogStreamWholeCharacters(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	c, rn := ts.runningJob(t, "octo/utf8")
	ts.st.AppendLog(ctx, c.Job.ID, 0, []byte("caf\xc3"))
	resp := ts.stream(t, "/api/repos/octo/utf8/builds/1/logs/compile/stream", "")
	first := readEvents(t, resp, func(e sseEvent) bool { return e.name == "log" })
	ts.st.AppendLog(ctx, c.Job.ID, 4, []byte("\xa9 \xe2\x82\xac\n"))
	ts.st.Finish(ctx, c.Job.ID, rn.ID, store.Result{Status: store.JobSuccess})
	rest := readEvents(t, resp, func(e sseEvent) bool { return e.name == "end" })
	if got := decoded(t, append(first, rest...)); got != "café €\n" || first[len(first)-1].id != "3" {
		t.Errorf("events %+v: log %q", append(first, rest...), got)
	}
}
