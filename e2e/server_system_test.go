package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/server/store/postgres"
)

// The whole system, once per store: the server binary on SQLite and on
// PostgreSQL, two runner binaries (concurrent = 1 each), repositories
// pushed with git, and
//   - a GitLab job whose image is in the private registry, pulled with the
//     credentials of a repository variable, with a Redis service and a
//     masked variable that is masked in the live stream and the stored log;
//   - a Drone file of three pipelines, each with a Redis service and a
//     secret, shared with the GitLab job between both runners;
//   - an untrusted repository's privileged step, refused with the reason
//     before any container is created, then admitted once an administrator
//     marks the repository trusted.

const (
	systemVariable = "gl-s3cret-variable-value"
	systemSecret   = "dr-s3cret-secret-value"
)

func TestServerSystem(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags func(*testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database", e2ePostgres(t)} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			systemTest(t, tt.flags(t))
		})
	}
}

// e2ePostgres is a fresh schema of $SLIPWAY_TEST_POSTGRES, dropped when
// the test ends. The database is part of the test set-up, as the
// registry: its absence fails the test.
func e2ePostgres(t *testing.T) string {
	base := os.Getenv("SLIPWAY_TEST_POSTGRES")
	if base == "" {
		t.Fatal(`$SLIPWAY_TEST_POSTGRES is not set; run: scripts/postgres.sh start && eval "$(scripts/postgres.sh env)"`)
	}
	u, drop, err := postgres.CreateSchema(t.Context(), base, "e2e_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return u
}

func systemTest(t *testing.T, serverFlags []string) {
	reg := testReg(t)
	img := pushPrivate(t)
	sv := serve(t, serverFlags...)
	addr, url, admin := sv.addr, sv.url, sv.admin
	api := url + "/api/repos/"
	for _, slug := range []string{"octo/gl", "octo/dr", "octo/priv"} {
		apiCall(t, "POST", api+slug, admin, "")
	}
	putJSON := func(path string, v any) {
		b, _ := json.Marshal(v)
		apiCall(t, "POST", api+path, admin, string(b))
	}
	putJSON("octo/gl/variables", map[string]any{"name": "DOCKER_AUTH_CONFIG", "value": reg.good()})
	putJSON("octo/gl/variables", map[string]any{"name": "DEPLOY_TOKEN", "value": systemVariable, "masked": true})
	putJSON("octo/dr/secrets", map[string]any{"name": "token", "data": systemSecret})

	push(t, addr, admin, "octo/gl", ".gitlab-ci.yml", `
test:
  image: `+img.ref+`
  services:
    - {name: "redis:7.0", pull_policy: if-not-present}
  script:
    - echo "deploy token is $DEPLOY_TOKEN"
    - printf 'PING\r\n' | nc -w 2 redis 6379
    - sleep 3
`)
	push(t, addr, admin, "octo/dr", ".drone.yml", droneRedisPipeline("one")+"---\n"+droneRedisPipeline("two")+"---\n"+droneRedisPipeline("three"))
	// Followed from before any runner runs: what it shows arrives live.
	streamed := make(chan stream, 1)
	go func() {
		streamed <- followStream(url+"/api/repos/octo/gl/builds/1/logs/1/stream", admin, "deploy token is [MASKED]\n")
	}()

	// Neither runner may find the registry's credentials anywhere but in
	// the repository's variable.
	sandbox := newRegSandbox(t).env()
	runners := []*proc{startRunner(t, url, admin, sandbox...), startRunner(t, url, admin, sandbox...)}
	var owners []string
	for _, r := range runners {
		owners = append(owners, engine.OwnerOf(r.cmd.Process.Pid))
	}
	defer func() {
		for i, r := range runners {
			r.signal(syscall.SIGTERM)
			r.waitWithin(60 * time.Second)
			assertNothingLeft(t, owners[i])
		}
	}()

	if st := waitBuild(t, url, admin, "octo/gl"); st != "success" {
		t.Errorf("the GitLab build ended %s:\n%s", st, buildLog(t, url, admin, "octo/gl"))
	}
	if st := waitBuild(t, url, admin, "octo/dr"); st != "success" {
		t.Errorf("the Drone build ended %s", st)
	}
	glLog := buildLog(t, url, admin, "octo/gl")
	for _, want := range []string{"Pulling " + img.ref + " with credentials from " + srcVariable + "\n", "deploy token is [MASKED]\n", "+PONG"} {
		if !strings.Contains(glLog, want) {
			t.Errorf("the GitLab job's stored log lacks %q:\n%s", want, glLog)
		}
	}
	var sse stream
	select {
	case sse = <-streamed:
	case <-time.After(30 * time.Second):
		t.Fatal("the live stream of the GitLab job did not end")
	}
	live := sse.log
	if !strings.Contains(live, "deploy token is [MASKED]\n") || !strings.Contains(live, "+PONG") {
		t.Errorf("the GitLab job's live stream lacks the masked line or PONG:\n%s", live)
	}
	// The job sleeps 3 s after the line; the runner sends its log every
	// second: the line came while the job ran, not with its end.
	if sse.marked.IsZero() || sse.ended.Sub(sse.marked) < time.Second {
		t.Errorf("the masked line came %s before the end of the stream, want it live (>= 1s before)", sse.ended.Sub(sse.marked))
	}
	leaks := append([]string{systemVariable, systemSecret}, reg.secrets()...)
	for _, s := range leaks {
		if strings.Contains(live, s) || strings.Contains(glLog, s) {
			t.Errorf("the GitLab job's log shows %q", s)
		}
	}
	for n := 1; n <= 3; n++ {
		l := jobLog(t, url, admin, "octo/dr", n)
		if !strings.Contains(l, "token is [MASKED]\n") || !strings.Contains(l, "+PONG") || strings.Contains(l, systemSecret) {
			t.Errorf("Drone job %d's log:\n%s", n, l)
		}
	}
	// Four jobs of about 3 s each, two runners of one slot each asking
	// every 3 s: both must have worked.
	for i, r := range runners {
		if n := strings.Count(r.stdout.String()+r.stderr.String(), "received from"); n == 0 {
			t.Errorf("runner %d took no job:\n%s%s", i+1, r.stdout.String(), r.stderr.String())
		}
	}

	testTrust(t, url, admin, addr, owners)
}

// droneRedisPipeline is a pipeline whose step reaches its Redis service
// (which Drone does not wait for) and prints a secret.
func droneRedisPipeline(name string) string {
	return `kind: pipeline
name: ` + name + `
services:
- name: redis
  image: redis:7.0
  pull: if-not-present
steps:
- name: ping
  image: busybox:1.35
  pull: if-not-present
  environment:
    TOKEN: {from_secret: token}
  commands:
  - echo "token is $TOKEN"
  - for i in $(seq 50); do printf 'PING\r\n' | nc -w 1 redis 6379 > out && grep -q PONG out && break; sleep 0.2; done
  - cat out
  - sleep 3
`
}

// testTrust: the privileged step of an untrusted repository is refused
// before any container is created; trusted, its restart is admitted, and
// the engine is asked for a privileged container.
func testTrust(t *testing.T, url, admin, addr string, owners []string) {
	w := watchCreations(t)
	push(t, addr, admin, "octo/priv", ".drone.yml", `
kind: pipeline
name: default
steps:
- name: dind
  image: busybox:1.35
  pull: if-not-present
  privileged: true
  commands:
  - grep CapEff /proc/self/status
`)
	if st := waitBuildN(t, url, admin, "octo/priv", 1); st != "failure" {
		t.Errorf("the untrusted privileged build ended %s, want failure", st)
	}
	refused := jobLogN(t, url, admin, "octo/priv", 1, 1)
	if !strings.Contains(refused, "the job is refused") || !strings.Contains(refused, "privileged: true needs a trusted run (an administrator marks the repository trusted: slipway repo trust octo/priv)") {
		t.Errorf("the refused job's log does not say why and what to do:\n%s", refused)
	}
	if created := w.count(owners...); created != 0 {
		t.Errorf("%d containers were created for the refused job, want none", created)
	}

	w = watchCreations(t)
	apiCall(t, "PATCH", url+"/api/repos/octo/priv", admin, `{"trusted":true}`)
	apiCall(t, "POST", url+"/api/repos/octo/priv/builds/1", admin, "")
	st := waitBuildN(t, url, admin, "octo/priv", 2)
	admitted := jobLogN(t, url, admin, "octo/priv", 2, 1)
	if strings.Contains(admitted, "refused") {
		t.Errorf("the trusted restart was refused:\n%s", admitted)
	}
	t.Logf("the trusted restart ended %s:\n%s", st, admitted)
	// Privileged containers cannot start on some test machines (runc
	// cannot apply every capability): there the engine's refusal shows
	// it was asked for a privileged container.
	switch {
	case st == "success":
		if !regexp.MustCompile(`CapEff:\s*0000[0-9a-f]{2}ffffffffff`).MatchString(admitted) {
			t.Errorf("the trusted job ran without every capability:\n%s", admitted)
		}
	case strings.Contains(admitted, "unable to apply caps") || strings.Contains(admitted, "operation not permitted"):
	default:
		t.Errorf("the trusted restart ended %s:\n%s", st, admitted)
	}
	created := w.count(owners...)
	if created == 0 {
		t.Error("no container was created for the trusted restart")
	}
}

// waitBuildN waits for build n of slug to finish and returns its status.
func waitBuildN(t *testing.T, url, token, slug string, n int) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var b struct{ Status string }
		if apiGet(t, url+"/api/repos/"+slug+"/builds/"+strconv.Itoa(n), token, &b) == 200 {
			switch b.Status {
			case "success", "failure", "error", "killed":
				return b.Status
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("build %d of %s did not finish in 2 minutes", n, slug)
	return ""
}

// jobLogN is the stored log of job of build n of slug.
func jobLogN(t *testing.T, url, token, slug string, n, job int) string {
	t.Helper()
	var lines []struct{ Out string }
	path := url + "/api/repos/" + slug + "/builds/" + strconv.Itoa(n) + "/logs/" + strconv.Itoa(job) + "/1"
	if code := apiGet(t, path, token, &lines); code != 200 {
		t.Fatalf("log of job %d of build %d of %s: %d", job, n, slug, code)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Out)
	}
	return b.String()
}

// stream is what followStream saw: the log, when it first held the mark,
// and when the end event came.
type stream struct {
	log           string
	marked, ended time.Time
}

// followStream reads a job's server-sent events until the stream ends and
// returns the log they carried ("ERROR: ..." in it when the stream fails).
func followStream(url, token, mark string) (s stream) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.log = "ERROR: " + err.Error()
		return s
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.log = "ERROR: " + resp.Status
		return s
	}
	var out strings.Builder
	event := ""
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var chunk string
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			s.log = out.String() + "ERROR: " + err.Error()
			return s
		}
		if event == "end" {
			s.log, s.ended = out.String(), time.Now()
			return s
		}
		out.WriteString(chunk)
		if s.marked.IsZero() && strings.Contains(out.String(), mark) {
			s.marked = time.Now()
		}
	}
	s.log = out.String() + "ERROR: the stream ended without an end event"
	return s
}
