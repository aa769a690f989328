package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/agent/agenttest"
	"github.com/slipway-ci/slipway/config"
)

func TestRegisterWithAuthTokenAppendsToConfig(t *testing.T) {
	f := agenttest.NewServer(t)
	path := filepath.Join(t.TempDir(), "config.toml")
	old := "# mine\nconcurrent = 4\n\n[[runners]]\n  name = \"old\"\n  executor = \"docker\"\n  [runners.docker]\n    image = \"busybox:1.35\"\n    privileged = true"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Registration{URL: f.URL, Token: f.RunnerToken, Name: "new", Executor: "docker",
		DockerImage: "busybox:1.35", DockerServices: []string{"redis:7.0", "postgres:15"}, ConfigPath: path}
	if _, err := Register(context.Background(), &Client{URL: f.URL}, r); err != nil {
		t.Fatal(err)
	}
	id, err := SystemID(path) // kept beside the file
	if err != nil || !strings.HasPrefix(id, "s_") {
		t.Fatalf("system ID %q, %v", id, err)
	}
	body := f.Bodies("POST runners/verify")
	if len(body) != 1 || body[0]["token"] != f.RunnerToken || body[0]["system_id"] != id {
		t.Errorf("verify bodies: %v, want system_id %s", body, id)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), old) {
		t.Errorf("the file's old content was not kept:\n%s", data)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runners) != 2 || cfg.Concurrent != 4 || !cfg.Runners[0].Docker.Privileged {
		t.Fatalf("config after register: %+v", cfg)
	}
	got := cfg.Runners[1]
	if got.Name != "new" || got.ID != 7 || got.URL != f.URL || got.Token != f.RunnerToken || got.Executor != "docker" ||
		got.Docker.Image != "busybox:1.35" || len(got.Docker.Services) != 2 || got.Docker.Services[1].Name != "postgres:15" {
		t.Errorf("entry: %+v", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestRegisterWithRegistrationTokenWritesIssuedToken(t *testing.T) {
	f := agenttest.NewServer(t)
	path := filepath.Join(t.TempDir(), "sub", "config.toml")
	r := Registration{URL: f.URL, RegistrationToken: "REGTOKEN", Name: "legacy", Tags: []string{"a", "b"}, ConfigPath: path}
	if _, err := Register(context.Background(), &Client{URL: f.URL}, r); err != nil {
		t.Fatal(err)
	}
	b := f.Bodies("POST runners")[0]
	if b["token"] != "REGTOKEN" || b["tag_list"] != "a,b" || b["description"] != "legacy" || b["run_untagged"] != false {
		t.Errorf("register body: %v", b)
	}
	if f.Requests()[0].Header.Get("Private-Token") != "REGTOKEN" {
		t.Errorf("no Private-Token header")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runners) != 1 || cfg.Runners[0].Token != "glrt-issued" || cfg.Runners[0].ID != 8 || cfg.Concurrent != 1 {
		t.Errorf("config: %+v", cfg)
	}
}

func TestRegisterRefusals(t *testing.T) {
	f := agenttest.NewServer(t)
	for name, tc := range map[string]struct {
		r    Registration
		want string
	}{
		"tags with glrt":     {Registration{URL: f.URL, Token: "glrt-runner", Tags: []string{"a"}}, "--tag-list and --run-untagged cannot"},
		"untagged with glrt": {Registration{URL: f.URL, Token: "glrt-runner", RunUntagged: true}, "--tag-list and --run-untagged cannot"},
		"both tokens":        {Registration{URL: f.URL, Token: "glrt-runner", RegistrationToken: "x"}, "give one of"},
		"no glrt prefix":     {Registration{URL: f.URL, Token: "abc"}, "glrt-"},
		"bad executor":       {Registration{URL: f.URL, Token: "glrt-runner", Executor: "shell"}, `executor "shell"`},
		"unknown token":      {Registration{URL: f.URL, Token: "glrt-other"}, "403"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tc.r.ConfigPath = filepath.Join(dir, "config.toml")
			_, err := Register(context.Background(), &Client{URL: f.URL}, tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if _, err := os.Stat(tc.r.ConfigPath); err == nil {
				t.Errorf("a refused registration wrote %s", tc.r.ConfigPath)
			}
			if _, err := os.Stat(filepath.Join(dir, ".runner_system_id")); err == nil && !strings.Contains(tc.want, "403") {
				t.Errorf("a registration refused before asking the server wrote a system ID")
			}
		})
	}
	if n := len(f.Bodies("POST runners/verify")); n != 1 {
		t.Errorf("%d verify requests, want only the unknown token's", n)
	}
}

// The final update's checksum is gitlab-runner's: the recorded job's
// PATCHes, joined, have the checksum and size of its final PUT.
func TestChecksumAsStockRunner(t *testing.T) {
	data, err := os.ReadFile("../../shared/protocols/gitlab-runner-17.9.3-run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrace(nil, 42, "", func() {})
	var want Output
	for line := range strings.Lines(string(data)) {
		var rec struct {
			Method string
			Body   json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		switch rec.Method {
		case "PATCH":
			var body string
			if err := json.Unmarshal(rec.Body, &body); err != nil {
				t.Fatal(err)
			}
			_, _ = tr.Write([]byte(body))
		case "PUT":
			var u Update
			if err := json.Unmarshal(rec.Body, &u); err != nil {
				t.Fatal(err)
			}
			want = *u.Output
		}
	}
	if got := tr.output(); *got != want || want.Bytesize != 1380 {
		t.Errorf("output %+v, want %+v of 1380 bytes", got, want)
	}
}

func TestTraceResendsWhatTheServerLost(t *testing.T) {
	f := agenttest.NewServer(t)
	f.DropFirst = 5
	tr := newTrace(&Client{URL: f.URL}, 3, agenttest.JobToken(3), func() { t.Error("canceled") })
	want := strings.Repeat("line of output\n", 10)
	_, _ = tr.Write([]byte(want))
	if err := tr.finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.Trace(3); got != want {
		t.Errorf("server holds %q, want %q", got, want)
	}
	if f.Patches(3) != 2 {
		t.Errorf("%d PATCHes, want 2 (the second resends the lost end)", f.Patches(3))
	}
}

func TestTraceSendsABurstInPieces(t *testing.T) {
	f := agenttest.NewServer(t)
	tr := newTrace(&Client{URL: f.URL}, 8, agenttest.JobToken(8), func() {})
	want := strings.Repeat("0123456789abcdef", 5*maxPatch/32) // 2.5 pieces
	_, _ = tr.Write([]byte(want))
	if err := tr.finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.Trace(8); got != want || f.Patches(8) != 3 {
		t.Errorf("server holds %d bytes in %d PATCHes, want %d in 3", len(got), f.Patches(8), len(want))
	}
}

func TestTraceResyncsOn416(t *testing.T) {
	f := agenttest.NewServer(t)
	tr := newTrace(&Client{URL: f.URL}, 4, agenttest.JobToken(4), func() {})
	_, _ = tr.Write([]byte("hello\nworld\n"))
	tr.sent = 6 // the runner believes more arrived than the server holds
	if err := tr.finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.Trace(4); got != "hello\nworld\n" {
		t.Errorf("server holds %q", got)
	}
	var ranges []string
	for _, r := range f.Requests() {
		ranges = append(ranges, r.Header.Get("Content-Range"))
	}
	if strings.Join(ranges, " ") != "6-11 0-11" {
		t.Errorf("Content-Ranges %v, want a 416 and a resend from 0", ranges)
	}
}

func TestTraceIsLiveWhileOutputFlows(t *testing.T) {
	f := agenttest.NewServer(t)
	tr := newTrace(&Client{URL: f.URL}, 5, agenttest.JobToken(5), func() {})
	tr.interval = 100 * time.Millisecond
	tr.start(context.Background())
	for i := range 12 {
		_, _ = fmt.Fprintf(tr, "line %d\n", i)
		time.Sleep(50 * time.Millisecond)
	}
	if got := f.Trace(5); !strings.Contains(got, "line 0\n") || !strings.Contains(got, "line 8\n") {
		t.Errorf("before the end the server holds only %q", got)
	}
	if err := tr.finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.Patches(5); n < 3 || n > 9 {
		t.Errorf("%d PATCHes for 600 ms of output at most every 100 ms", n)
	}
	if !strings.HasSuffix(f.Trace(5), "line 11\n") {
		t.Errorf("the last line is missing: %q", f.Trace(5))
	}
}

func TestTraceRetriesAFailedPatchWithoutNewOutput(t *testing.T) {
	f := agenttest.NewServer(t)
	f.FailPatches = 2
	tr := newTrace(&Client{URL: f.URL}, 7, agenttest.JobToken(7), func() {})
	tr.interval, tr.keepAlive = 10*time.Millisecond, 50*time.Millisecond
	tr.start(context.Background())
	defer func() { _ = tr.finish(context.Background()) }()
	_, _ = tr.Write([]byte("only line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for f.Trace(7) != "only line\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %q: a failed PATCH was not retried", f.Trace(7))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTraceStopsTheJobWhenTheServerCancels(t *testing.T) {
	f := agenttest.NewServer(t)
	f.SetJobStatus(6, "canceled")
	var canceled atomic.Bool
	tr := newTrace(&Client{URL: f.URL}, 6, agenttest.JobToken(6), func() { canceled.Store(true) })
	tr.keepAlive = 50 * time.Millisecond
	tr.start(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for !canceled.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !canceled.Load() {
		t.Error("a quiet job's keep-alive did not see Job-Status: canceled")
	}
	_ = tr.finish(context.Background())
}

// runAgent runs an agent on f until stop is called or the test ends.
func runAgent(t *testing.T, f *agenttest.Server, a *Agent) (stop func()) {
	t.Helper()
	if a.Config == nil {
		a.Config = &config.Config{Concurrent: 2, Runners: []config.Runner{{Name: "t", URL: f.URL, Token: f.RunnerToken}}}
	}
	a.SystemID, a.CheckInterval, a.TraceInterval = "s_test", 20*time.Millisecond, 100*time.Millisecond
	poll, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(poll, context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(time.Minute):
				t.Error("the agent did not stop within a minute")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestJobWithoutSlipwayIsRefused(t *testing.T) {
	f := agenttest.NewServer(t)
	f.Add(agenttest.Job(10, nil, agenttest.Git{}, false, nil))
	runAgent(t, f, &Agent{})
	u := f.Final(t)
	if u.State != "failed" || u.FailureReason != "runner_unsupported" {
		t.Errorf("final update %+v", u)
	}
	if tr := f.Trace(10); !strings.Contains(tr, "no slipway document") {
		t.Errorf("trace %q does not say why", tr)
	}
	req := f.Bodies("POST jobs/request")[0]
	info, _ := req["info"].(map[string]any)
	if req["token"] != f.RunnerToken || req["system_id"] != "s_test" || info["name"] != "slipway" ||
		info["executor"] != "docker" || info["features"] == nil {
		t.Errorf("jobs/request body %v", req)
	}
}

func TestPrepareErrorFailsTheJobBeforeAnythingStarts(t *testing.T) {
	f := agenttest.NewServer(t)
	doc := agenttest.Document(t, ".drone.yml", "kind: pipeline\nname: default\nsteps:\n- name: s\n  image: busybox:1.35\n  privileged: true\n  commands: [id]\n", "default")
	f.Add(agenttest.Job(11, doc, agenttest.Git{RepoURL: "http://127.0.0.1:1/none.git", Sha: "abc"}, false, map[string]string{"TOKEN": "s3cr3t-value"}))
	// No engine: anything that tried to start a container would panic.
	runAgent(t, f, &Agent{})
	u := f.Final(t)
	if u.State != "failed" || u.FailureReason != "script_failure" {
		t.Errorf("final update %+v", u)
	}
	tr := f.Trace(11)
	if !strings.Contains(tr, "privileged") || strings.Contains(tr, "Fetching") {
		t.Errorf("trace %q: want the refusal, before any fetch", tr)
	}
	if ups := f.Updates(11); len(ups) < 2 || ups[0].State != "running" {
		t.Errorf("updates %+v: want running first", ups)
	}
}

// A failure reason the server does not list becomes unknown_failure, as
// gitlab-runner does.
func TestFailureReasonTheServerLacks(t *testing.T) {
	f := agenttest.NewServer(t)
	job := agenttest.Job(12, nil, agenttest.Git{}, false, nil)
	job["features"] = map[string]any{"failure_reasons": []string{"script_failure", "unknown_failure"}}
	f.Add(job)
	runAgent(t, f, &Agent{})
	if u := f.Final(t); u.State != "failed" || u.FailureReason != "unknown_failure" {
		t.Errorf("final update %+v", u)
	}
}
