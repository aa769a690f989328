package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

func img(name string) pipeline.Image {
	return pipeline.Image{Name: name, Ref: "docker.io/library/" + name}
}

func gitlabJob(name string, script ...string) *pipeline.Job {
	return &pipeline.Job{
		Name: name, Network: pipeline.NetworkPerJob, Workspace: "/builds/g/p",
		Steps: []*pipeline.Step{{Container: pipeline.Container{Name: "script", Image: img("busybox:1.35")}, Commands: script, Shell: pipeline.ShellGitLab}},
	}
}

func withAfter(j *pipeline.Job, after ...string) *pipeline.Job {
	j.Steps = append(j.Steps, &pipeline.Step{Container: pipeline.Container{Name: "after_script", Image: j.Steps[0].Image}, Commands: after, Shell: pipeline.ShellGitLab, Always: true})
	return j
}

// testRunner runs a pipeline as a plan, printing to a buffer.
type testRunner struct {
	*Runner
	Secrets map[string]string
	// Artifacts and Workspace are the run's Options.
	Artifacts, Workspace string
	out                  *bytes.Buffer
}

func (r *testRunner) Run(ctx context.Context, p *pipeline.Pipeline) Result {
	pl := &plan.Plan{File: p.File, Dialect: p.Dialect, Secrets: r.Secrets}
	for _, s := range p.Stages {
		st := plan.Stage{Name: s.Name}
		for _, j := range s.Jobs {
			st.Jobs = append(st.Jobs, &plan.Job{Job: j})
		}
		pl.Stages = append(pl.Stages, st)
	}
	return r.Runner.Run(ctx, pl, Options{ID: "r", Events: NewPrinter(r.out), Artifacts: r.Artifacts, Workspace: r.Workspace})
}

func newTestRunner(f *fakeEngine) (*testRunner, *bytes.Buffer) {
	var out bytes.Buffer
	f.images["docker.io/library/busybox:1.35"] = engine.ImageInfo{}
	return &testRunner{Runner: &Runner{Engine: f, Owner: "h:1"}, out: &out}, &out
}

func pipelineOf(stages ...pipeline.Stage) *pipeline.Pipeline {
	return &pipeline.Pipeline{File: "t.yml", Stages: stages}
}

func TestFailedStageSkipsLaterStages(t *testing.T) {
	f := newFake()
	f.exit["exit 1"] = 1
	r, out := newTestRunner(f)
	res := r.Run(context.Background(), pipelineOf(
		pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{gitlabJob("ok", "true"), gitlabJob("bad", "exit 1")}},
		pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{gitlabJob("later", "true")}},
	))
	want := []Status{Passed, Failed, Skipped}
	for i, j := range res.Jobs {
		if j.Status != want[i] {
			t.Errorf("job %s: %s, want %s", j.Name, j.Status, want[i])
		}
	}
	if !res.Failed() {
		t.Error("result not failed")
	}
	if !strings.Contains(out.String(), `Job "bad" failed`) || !strings.Contains(out.String(), "exited with code 1") {
		t.Errorf("output lacks the failure line:\n%s", out)
	}
	if !f.destroyed["j0-0"] || !f.destroyed["j0-1"] || f.has("setup j1-0") {
		t.Errorf("calls: %v", f.calls)
	}
}

func TestAfterScriptAlwaysRunsAndKeepsStatus(t *testing.T) {
	for _, tc := range []struct {
		script, after string
		want          Status
	}{
		{"exit 1", "true", Failed},
		{"true", "exit 1", Passed},
	} {
		f := newFake()
		f.exit["exit 1"] = 1
		r, _ := newTestRunner(f)
		res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "test",
			Jobs: []*pipeline.Job{withAfter(gitlabJob("j", tc.script), tc.after)}}))
		if res.Jobs[0].Status != tc.want {
			t.Errorf("script %q after %q: %s, want %s", tc.script, tc.after, res.Jobs[0].Status, tc.want)
		}
		if !f.has("run j0-0 step-1") {
			t.Errorf("after_script did not run: %v", f.calls)
		}
	}
}

func TestFailedStepSkipsLaterSteps(t *testing.T) {
	f := newFake()
	f.exit["exit 2"] = 2
	r, _ := newTestRunner(f)
	j := gitlabJob("j", "exit 2")
	j.Steps = append(j.Steps, &pipeline.Step{Container: pipeline.Container{Name: "next", Image: j.Steps[0].Image}, Commands: []string{"true"}})
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Failed || res.Jobs[0].ExitCode != 2 || f.has("run j0-0 step-1") {
		t.Errorf("status %s exit code %d calls %v", res.Jobs[0].Status, res.Jobs[0].ExitCode, f.calls)
	}
}

func TestSetupFailureStillDestroys(t *testing.T) {
	f := newFake()
	f.setupErr = errors.New("no space left")
	r, _ := newTestRunner(f)
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{gitlabJob("j", "true")}}))
	if res.Jobs[0].Status != Failed || !strings.Contains(res.Jobs[0].Reason, "no space left") || res.Jobs[0].ExitCode != 0 || !f.destroyed["j0-0"] {
		t.Errorf("%+v %v", res.Jobs[0], f.calls)
	}
}

func TestTimeoutFailsWithReason(t *testing.T) {
	f := newFake()
	f.runDelay = time.Minute
	r, _ := newTestRunner(f)
	j := gitlabJob("slow", "sleep 60")
	j.Timeout = 50 * time.Millisecond
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Failed || !strings.Contains(res.Jobs[0].Reason, "timed out after 50ms") || !f.destroyed["j0-0"] {
		t.Errorf("%+v", res.Jobs[0])
	}
}

func TestCancelRunsAfterScriptAndCleansUp(t *testing.T) {
	f := newFake()
	f.runDelay = 200 * time.Millisecond
	r, _ := newTestRunner(f)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res := r.Run(ctx, pipelineOf(
		pipeline.Stage{Name: "a", Jobs: []*pipeline.Job{withAfter(gitlabJob("j", "sleep 1"), "echo bye")}},
		pipeline.Stage{Name: "b", Jobs: []*pipeline.Job{gitlabJob("k", "true")}},
	))
	if res.Jobs[0].Status != Canceled || res.Jobs[1].Status != Skipped {
		t.Errorf("%+v", res.Jobs)
	}
	if !f.has("run j0-0 step-1") || !f.destroyed["j0-0"] {
		t.Errorf("after_script or cleanup missing: %v", f.calls)
	}
}

// TestCancelSkipsJobsThatHaveNotStarted: with many jobs waiting for a
// slot, a cancel ends the run as soon as the running ones stop; the
// waiting ones say nothing and cost no engine call.
func TestCancelSkipsJobsThatHaveNotStarted(t *testing.T) {
	f := newFake()
	f.runDelay = time.Hour
	r, out := newTestRunner(f)
	r.Concurrency = 2
	var jobs []*pipeline.Job
	for i := range 10000 {
		jobs = append(jobs, gitlabJob(fmt.Sprint("j", i), "true"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := r.Run(ctx, pipelineOf(pipeline.Stage{Name: "s", Jobs: jobs}))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the cancelled run took %s", took)
	}
	if n := strings.Count(out.String(), "Running job"); n != 2 {
		t.Errorf("%d jobs said they were running, want the 2 that were", n)
	}
	if len(f.destroyed) != 2 || len(res.Jobs) != 10000 || res.Jobs[9999].Status != Canceled {
		t.Errorf("destroyed %d sandboxes; %d results, the last %+v", len(f.destroyed), len(res.Jobs), res.Jobs[len(res.Jobs)-1])
	}
}

func TestImagePulledOncePerRun(t *testing.T) {
	f := newFake()
	f.pullDelay = 50 * time.Millisecond
	f.runDelay = 50 * time.Millisecond
	r, _ := newTestRunner(f)
	r.Concurrency = 4
	var jobs []*pipeline.Job
	for _, n := range []string{"a", "b", "c", "d"} {
		j := gitlabJob(n, "true")
		j.Steps[0].Image = img("alpine:3.20")
		jobs = append(jobs, j)
	}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: jobs}))
	if res.Failed() || f.pulls["docker.io/library/alpine:3.20"] != 1 {
		t.Errorf("pulls %v, result %+v", f.pulls, res.Jobs)
	}
	if f.maxRunning < 2 {
		t.Errorf("jobs of a stage did not run concurrently (max %d)", f.maxRunning)
	}
}

func TestPullFailureNamesImageAndRegistry(t *testing.T) {
	f := newFake()
	f.pullErr = errors.New("unauthorized: authentication required")
	r, _ := newTestRunner(f)
	j := gitlabJob("j", "true")
	j.Steps[0].Image = pipeline.Image{Name: "127.0.0.1:5000/private/x:1", Ref: "127.0.0.1:5000/private/x:1"}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	reason := res.Jobs[0].Reason
	if !strings.Contains(reason, "127.0.0.1:5000/private/x:1") || !strings.Contains(reason, "registry 127.0.0.1:5000") || !strings.Contains(reason, "authentication required") {
		t.Errorf("reason %q", reason)
	}
	if f.has("setup j0-0") {
		t.Error("setup ran although the pull failed")
	}
}

func serviceJob(svcs ...*pipeline.Service) *pipeline.Job {
	j := gitlabJob("j", "true")
	j.Services = svcs
	return j
}

func TestServiceThatNeverListensWarnsWithLog(t *testing.T) {
	f := newFake()
	r, out := newTestRunner(f)
	r.ServiceTimeout = 100 * time.Millisecond
	f.images["docker.io/library/redis:7.0"] = engine.ImageInfo{ExposedTCPPorts: []int{6379}}
	svc := &pipeline.Service{Container: pipeline.Container{Name: "redis", Image: img("redis:7.0")}, Aliases: []string{"redis"}}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{serviceJob(svc)}}))
	o := out.String()
	if res.Failed() || !strings.Contains(o, "*** WARNING: Service redis probably didn't start properly.") ||
		!strings.Contains(o, "port 6379 did not accept connections") || !strings.Contains(o, "log line of svc-redis") {
		t.Errorf("result %+v, output:\n%s", res.Jobs, o)
	}
	if !f.has("run j0-0 step-0") {
		t.Error("job did not run after the warning")
	}
}

func TestExitedServiceReportedAtOnce(t *testing.T) {
	f := newFake()
	r, out := newTestRunner(f)
	r.ServiceTimeout = time.Hour
	f.images["docker.io/library/redis:7.0"] = engine.ImageInfo{ExposedTCPPorts: []int{6379}}
	f.exited["svc-redis"] = 137
	svc := &pipeline.Service{Container: pipeline.Container{Name: "redis", Image: img("redis:7.0")}}
	start := time.Now()
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{serviceJob(svc)}}))
	if time.Since(start) > 10*time.Second || !strings.Contains(out.String(), "exited with code 137") {
		t.Errorf("took %s, output:\n%s", time.Since(start), out)
	}
}

func TestServiceThatDiesMidJobIsReportedAtOnce(t *testing.T) {
	f := newFake()
	f.runDelay = 3 * time.Second
	r, out := newTestRunner(f)
	f.images["docker.io/library/redis:7.0"] = engine.ImageInfo{ExposedTCPPorts: []int{6379}}
	f.listening["svc-redis"] = true
	f.dies = map[string]time.Time{"svc-redis": time.Now().Add(time.Second)}
	svc := &pipeline.Service{Container: pipeline.Container{Name: "redis", Image: img("redis:7.0")}}
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{serviceJob(svc)}}))
	o := out.String()
	warning := strings.Index(o, "*** WARNING: Service redis stopped while the job ran.")
	if warning < 0 || !strings.Contains(o, "The container exited with code 137 (out of memory).") ||
		strings.Count(o, "*** WARNING") != 1 || warning > strings.Index(o, `Job "j" passed`) {
		t.Errorf("want one warning before the job's end:\n%s", o)
	}
}

func TestServicesWithoutPortsAreNotWaitedFor(t *testing.T) {
	f := newFake()
	r, out := newTestRunner(f)
	r.ServiceTimeout = time.Hour
	f.images["docker.io/library/worker:1"] = engine.ImageInfo{}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{
		serviceJob(&pipeline.Service{Container: pipeline.Container{Name: "worker", Image: img("worker:1")}})}}))
	if res.Failed() || strings.Contains(out.String(), "WARNING") {
		t.Errorf("%+v\n%s", res.Jobs, out)
	}
}

func TestMissingSecretFailsBeforeStart(t *testing.T) {
	f := newFake()
	r, _ := newTestRunner(f)
	j := gitlabJob("j", "true")
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "TOKEN", FromSecret: "token"}}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Failed || !strings.Contains(res.Jobs[0].Reason, `secret "token" is not set`) || f.has("run j0-0 step-0") {
		t.Errorf("%+v %v", res.Jobs[0], f.calls)
	}
}

func TestSharedNamespacePortClashNamesBothServices(t *testing.T) {
	f := newFake()
	r, _ := newTestRunner(f)
	f.images["docker.io/library/redis:7.0"] = engine.ImageInfo{ExposedTCPPorts: []int{6379}}
	f.listening["svc-cache"], f.listening["svc-sessions"] = true, true
	j := serviceJob(
		&pipeline.Service{Container: pipeline.Container{Name: "cache", Image: img("redis:7.0")}},
		&pipeline.Service{Container: pipeline.Container{Name: "sessions", Image: img("redis:7.0")}},
	)
	j.Network = pipeline.NetworkSharedLocalhost
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	reason := res.Jobs[0].Reason
	if res.Jobs[0].Status != Failed || !strings.Contains(reason, "cache") || !strings.Contains(reason, "sessions") || !strings.Contains(reason, "port 6379") {
		t.Errorf("%+v", res.Jobs[0])
	}
	if f.has("setup j0-0") {
		t.Error("the sandbox was set up although the services clash")
	}
	// With a command override the second may listen elsewhere: allowed.
	j.Services[1].Command = []string{"redis-server", "--port", "6380"}
	f.calls = nil
	res = r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Passed {
		t.Errorf("%+v", res.Jobs[0])
	}
}

func TestSecretsAreMaskedInJobOutputAndMessages(t *testing.T) {
	f := newFake()
	f.echoEnv = true
	f.exit["exit 1"] = 1
	r, out := newTestRunner(f)
	r.Secrets = map[string]string{"token": "s3cr3t-t0ken-value", "pin": "42"}
	j := gitlabJob("j", "exit 1")
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "TOKEN", FromSecret: "token"}}
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	o := out.String()
	if strings.Contains(o, "s3cr3t-t0ken-value") || !strings.Contains(o, "TOKEN=[MASKED]") {
		t.Errorf("secret not masked:\n%s", o)
	}
	if !strings.Contains(o, "Secret pin is shorter than 3 characters") || strings.Contains(o, "42") {
		t.Errorf("short secret not reported by name only:\n%s", o)
	}
	// The masked tail is flushed before the job's status line.
	if strings.Index(o, "TOKEN=[MASKED]") > strings.Index(o, `Job "j" failed`) {
		t.Errorf("job output after its status line:\n%s", o)
	}
}

func TestSecretSplitAcrossStdoutAndStderrIsMasked(t *testing.T) {
	f := newFake()
	f.interleave = "hunter2-correct-horse"
	r, out := newTestRunner(f)
	r.Secrets = map[string]string{"token": "hunter2-correct-horse"}
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{gitlabJob("j", "true")}}))
	o := out.String()
	if strings.Contains(o, "hunter2") || strings.Contains(o, "correct-horse") || strings.Count(o, "[MASKED]") != 2 {
		t.Errorf("secret leaked or not masked twice:\n%s", o)
	}
}

// TestTwoRunsAtOnceKeepTheirOwnState runs two plans on one Runner at the
// same time, as a runner agent does for two builds: each run masks its
// own secrets only, and each reports only its own jobs.
func TestTwoRunsAtOnceKeepTheirOwnState(t *testing.T) {
	f := newFake()
	f.echoEnv = true
	f.runDelay = 50 * time.Millisecond
	r, _ := newTestRunner(f)
	outs := make([]*bytes.Buffer, 2)
	done := make(chan Result, 2)
	for i, secret := range []string{"first-build-secret", "second-build-secret"} {
		outs[i] = &bytes.Buffer{}
		j := gitlabJob(fmt.Sprintf("job%d", i), "true")
		j.Steps[0].Env = []pipeline.EnvVar{{Name: "TOKEN", FromSecret: "token"}, {Name: "OTHER", Value: "first-build-secret"}}
		p := &plan.Plan{File: "t.yml", Secrets: map[string]string{"token": secret},
			Stages: []plan.Stage{{Name: "s", Jobs: []*plan.Job{{Job: j}}}}}
		go func() {
			done <- r.Runner.Run(context.Background(), p, Options{ID: fmt.Sprint("r", i), Events: NewPrinter(outs[i])})
		}()
	}
	for range 2 {
		if res := <-done; res.Failed() {
			t.Errorf("%+v", res.Jobs)
		}
	}
	if f.maxRunning < 2 {
		t.Errorf("the runs did not overlap (max %d running)", f.maxRunning)
	}
	first, second := outs[0].String(), outs[1].String()
	if strings.Contains(first, "first-build-secret") || !strings.Contains(first, "TOKEN=[MASKED]") || strings.Contains(first, "job1") {
		t.Errorf("first run:\n%s", first)
	}
	// The second run's secret is its own; the first run's value is not a
	// secret there, and shows.
	if strings.Contains(second, "second-build-secret") || !strings.Contains(second, "OTHER=first-build-secret") || strings.Contains(second, "job0") {
		t.Errorf("second run:\n%s", second)
	}
}

// TestRegistryCredentialsAreMasked: a registry whose error echoes the
// credentials it was sent (the password, or the base64 auth) prints them
// masked; the image's name stays readable.
func TestRegistryCredentialsAreMasked(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("robot-user:pa55word-xyz"))
	f := newFake()
	f.pullErr = errors.New("401 Unauthorized: Basic " + auth + " (robot-user / pa55word-xyz)")
	r, out := newTestRunner(f)
	j := gitlabJob("j", "true")
	j.Steps[0].Image = pipeline.Image{Name: "r.example:5000/app:1", Ref: "r.example:5000/app:1"}
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "DOCKER_AUTH_CONFIG", Value: `{"auths":{"r.example:5000":{"auth":"` + auth + `"}}}`}}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	o := out.String() + res.Jobs[0].Reason
	if res.Jobs[0].Status != Failed || strings.Contains(o, "pa55word-xyz") || strings.Contains(o, auth) || !strings.Contains(o, "r.example:5000/app:1") {
		t.Errorf("credentials shown:\n%s", o)
	}
}

func TestWhenDecidesWhichJobsRunAfterAFailure(t *testing.T) {
	with := func(j *pipeline.Job, w pipeline.When) *pipeline.Job { j.When = w; return j }
	run := func(first string) (Result, string) {
		f := newFake()
		f.exit["exit 1"] = 1
		r, out := newTestRunner(f)
		res := r.Run(context.Background(), pipelineOf(
			pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{gitlabJob("build", first)}},
			pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{
				gitlabJob("later", "true"),
				with(gitlabJob("report", "true"), pipeline.OnFailure),
				with(gitlabJob("cleanup", "true"), pipeline.Always),
				with(gitlabJob("deploy", "true"), pipeline.Manual),
			}},
		))
		return res, out.String()
	}
	// want: build, later (on_success), report (on_failure), cleanup
	// (always), deploy (manual).
	names := []string{"build", "later", "report", "cleanup", "deploy"}
	for _, tc := range []struct {
		first string
		want  []Status
	}{
		{"exit 1", []Status{Failed, Skipped, Passed, Passed, Skipped}},
		{"true", []Status{Passed, Passed, Skipped, Passed, Skipped}},
	} {
		res, out := run(tc.first)
		got := map[string]Status{}
		for _, j := range res.Jobs {
			got[j.Name] = j.Status
		}
		for i, n := range names {
			if got[n] != tc.want[i] {
				t.Errorf("first %q: job %s %s, want %s", tc.first, n, got[n], tc.want[i])
			}
		}
		if !strings.Contains(out, `Skipping job "deploy": manual job: run it by naming it (slipway exec deploy)`) {
			t.Errorf("first %q: output lacks the manual job's line:\n%s", tc.first, out)
		}
		if tc.first == "true" && !strings.Contains(out, `Skipping job "report": when: on_failure, and no earlier job failed`) {
			t.Errorf("output lacks the on_failure line:\n%s", out)
		}
	}
}

func TestStepWhenStatus(t *testing.T) {
	f := newFake()
	f.exit["exit 1"] = 1
	f.exit["exit 3"] = 3
	r, out := newTestRunner(f)
	j := gitlabJob("j", "exit 1")
	step := func(name, cmd string, w pipeline.When) *pipeline.Step {
		return &pipeline.Step{Container: pipeline.Container{Name: name, Image: j.Steps[0].Image}, Commands: []string{cmd}, Shell: pipeline.ShellDrone, When: w}
	}
	j.Steps = append(j.Steps,
		step("next", "true", pipeline.OnSuccess),
		step("notify", "true", pipeline.OnFailure),
		step("cleanup", "exit 3", pipeline.Always))
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Failed || !strings.Contains(res.Jobs[0].Reason, "code 1") {
		t.Errorf("job %+v", res.Jobs[0])
	}
	if f.has("run j0-0 step-1") || !f.has("run j0-0 step-2") || !f.has("run j0-0 step-3") {
		t.Errorf("calls %v", f.calls)
	}
	if !strings.Contains(out.String(), "step cleanup failed too") {
		t.Errorf("output:\n%s", out)
	}
}

func TestNothingToRunIsSaid(t *testing.T) {
	f := newFake()
	r, out := newTestRunner(f)
	res := r.Run(context.Background(), pipelineOf())
	if res.Failed() || len(res.Jobs) != 0 || !strings.Contains(out.String(), "Nothing to run: every job was left out") {
		t.Errorf("result %+v, output %q", res, out)
	}
}
