package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/client"
	"github.com/slipway-ci/slipway/server/store"
)

// manualFile has a manual deploy job, which allows failure as a manual
// job does by default on GitLab, and a job in a later stage.
const manualFile = `stages: [build, deploy, report]
compile:
  stage: build
  image: busybox:1.35
  script: [echo build]
deploy:
  stage: deploy
  image: busybox:1.35
  when: manual
  script: [echo deploy]
report:
  stage: report
  image: busybox:1.35
  script: [echo report]
`

// blockingFile's manual job comes from rules:, so it does not allow
// failure (GitLab's default there): it blocks the later stage.
const blockingFile = `stages: [build, deploy, verify]
compile:
  stage: build
  image: busybox:1.35
  script: [echo build]
deploy:
  stage: deploy
  image: busybox:1.35
  rules:
    - when: manual
  script: [echo deploy]
smoke:
  stage: verify
  image: busybox:1.35
  script: [echo smoke]
`

// runJob claims the next job for rn, checks it is want and finishes it
// with st.
func (ts *testServer) runJob(t *testing.T, rn store.Runner, want string, st store.JobStatus) {
	t.Helper()
	ctx := context.Background()
	c, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute)
	if err != nil || c.Job.Name != want {
		t.Fatalf("claimed %q, %v: want %s", c.Job.Name, err, want)
	}
	if err := ts.st.Finish(ctx, c.Job.ID, rn.ID, store.Result{Status: st}); err != nil {
		t.Fatal(err)
	}
}

func jobStatuses(b client.Build) map[string]string {
	out := map[string]string{}
	for _, j := range b.Jobs {
		out[j.Name] = j.Status
	}
	return out
}

// TestPlayManualJob: the build passes without its manual job, which no
// runner takes until it is played; playing it runs the build again.
func TestPlayManualJob(t *testing.T) {
	ts := startServer(t, Options{})
	ts.pushFile(t, "octo/m", ".gitlab-ci.yml", manualFile)
	ctx := context.Background()
	rn, err := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-play")
	if err != nil {
		t.Fatal(err)
	}
	ts.runJob(t, rn, "compile", store.JobSuccess)
	ts.runJob(t, rn, "report", store.JobSuccess)
	if _, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("a runner took the manual job: %v", err)
	}
	c := &client.Client{URL: ts.url, Token: ts.admin}
	b, err := c.Build(ctx, "octo/m", 1)
	if st := jobStatuses(b); err != nil || b.Status != "success" || b.Finished == 0 || st["deploy"] != "manual" {
		t.Fatalf("build with its manual job not played: %+v %v", b, err)
	}

	var ce *client.Error
	if _, err := c.PlayJob(ctx, "octo/m", 1, "compile"); !errors.As(err, &ce) || ce.Status != http.StatusConflict {
		t.Errorf("play a job that is not manual: %v", err)
	}
	if _, err := c.PlayJob(ctx, "octo/m", 1, "nope"); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("play an unknown job: %v", err)
	}
	_, bob := ts.user(t, "bob")
	if code, out := ts.call(t, "POST", "/api/repos/octo/m/builds/1/jobs/deploy/play", bob, ""); code != http.StatusForbidden {
		t.Errorf("play by a user without access: %d %s", code, out)
	}

	b, err = c.PlayJob(ctx, "octo/m", 1, "2") // deploy, by its number
	if st := jobStatuses(b); err != nil || b.Status != "running" || b.Finished != 0 || st["deploy"] != "pending" {
		t.Fatalf("played: %+v %v", b, err)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/m/builds/1/jobs/deploy/play", ts.admin, ""); code != http.StatusConflict || !strings.Contains(out, "deploy is pending") {
		t.Errorf("play twice: %d %s", code, out)
	}
	ts.runJob(t, rn, "deploy", store.JobSuccess)
	if b, err := c.Build(ctx, "octo/m", 1); err != nil || b.Status != "success" || b.Finished == 0 {
		t.Errorf("build after its played job: %+v %v", b, err)
	}
}

// TestBlockingManualAndDroneStop: a manual job that does not allow failure
// blocks the build and the stage after it; the drone CLI's build stop
// (drone-go's BuildCancel, a DELETE) cancels it with its waiting jobs.
func TestBlockingManualAndDroneStop(t *testing.T) {
	testBlockingManual(t, startServer(t, Options{}))
}

func TestBlockingManualOnPostgres(t *testing.T) {
	testBlockingManual(t, startServer(t, Options{Database: postgresURL(t)}))
}

func testBlockingManual(t *testing.T, ts *testServer) {
	ts.pushFile(t, "octo/b", ".gitlab-ci.yml", blockingFile)
	ctx := context.Background()
	rn, err := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-block")
	if err != nil {
		t.Fatal(err)
	}
	ts.runJob(t, rn, "compile", store.JobSuccess)
	if _, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("a runner took a job of a blocked build: %v", err)
	}
	d := ts.drone(ts.admin)
	b, err := d.Build("octo", "b", 1)
	if err != nil || b.Status != "blocked" || b.Finished != 0 || len(b.Stages) != 3 || b.Stages[1].Status != "manual" {
		t.Fatalf("blocked build: %+v %v", b, err)
	}

	_, bob := ts.user(t, "bob")
	wantClientError(t, ts.drone(bob).BuildCancel("octo", "b", 1), 403, "may not access")
	wantClientError(t, d.BuildCancel("octo", "b", 9), 404, "no build 9")
	if err := d.BuildCancel("octo", "b", 1); err != nil {
		t.Fatalf("drone build stop: %v", err)
	}
	b, err = d.Build("octo", "b", 1)
	if err != nil || b.Status != "killed" || b.Finished == 0 || b.Stages[1].Status != "killed" || b.Stages[2].Status != "killed" {
		t.Fatalf("stopped build: %+v %v", b, err)
	}
	if code, out := ts.call(t, "POST", "/api/repos/octo/b/builds/1/jobs/deploy/play", ts.admin, ""); code != http.StatusConflict {
		t.Errorf("play a canceled manual job: %d %s", code, out)
	}

	// Build 2: played, the blocking job runs and the stage after it too.
	c := &client.Client{URL: ts.url, Token: ts.admin}
	if _, err := c.StartBuild(ctx, "octo/b", "main"); err != nil {
		t.Fatal(err)
	}
	ts.runJob(t, rn, "compile", store.JobSuccess)
	if b, err := c.PlayJob(ctx, "octo/b", 2, "deploy"); err != nil || b.Status != "running" {
		t.Fatalf("play the blocking job: %+v %v", b, err)
	}
	ts.runJob(t, rn, "deploy", store.JobSuccess)
	ts.runJob(t, rn, "smoke", store.JobSuccess)
	if b, err := c.Build(ctx, "octo/b", 2); err != nil || b.Status != "success" {
		t.Errorf("build after its blocking job was played: %+v %v", b, err)
	}
}
