package gitlabapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/server/store"
)

// recorded is one request of the recorded traffic of a stock gitlab-runner.
type recorded struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// replay sends the recorded requests of file to the API, one by one. The
// recording's job 42 and its token stand for the job the last jobs/request
// handed out. check is called with each request and its answer.
func (e *env) replay(file string, each func(i int, rec recorded, r reply, job *runnerJob)) {
	e.t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var job *runnerJob
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if job != nil {
			line = strings.ReplaceAll(line, "job-token-42", job.Token)
			line = strings.ReplaceAll(line, "/api/v4/jobs/42", fmt.Sprintf("/api/v4/jobs/%d", job.ID))
		}
		var rec recorded
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			e.t.Fatalf("%s:%d: %v", file, i+1, err)
		}
		if !strings.HasPrefix(rec.Path, "/api/v4/") {
			continue // the recording stand-in's own pages
		}
		var body any = []byte(rec.Body)
		if len(rec.Body) > 0 && rec.Body[0] == '"' {
			var s string
			check(e.t, json.Unmarshal(rec.Body, &s))
			body = s // a trace chunk: raw text
		}
		var headers []string
		for k, v := range rec.Headers {
			headers = append(headers, k, v)
		}
		r := e.do(rec.Method, rec.Path, body, headers...)
		if rec.Path == "/api/v4/jobs/request" && r.status == http.StatusCreated {
			job = new(runnerJob)
			if err := json.Unmarshal(r.body, job); err != nil {
				e.t.Fatalf("%s:%d: the job does not decode as gitlab-runner decodes it: %v", file, i+1, err)
			}
		}
		each(i, rec, r, job)
	}
	check(e.t, sc.Err())
}

// recordedJob is the job the recorded runner ran.
const recordedJob = `
job:
  image: busybox:1.35
  script:
    - echo hello from job $CI_JOB_ID
    - echo secret=$MY_SECRET
    - uname -s
  after_script:
    - echo after
`

// replayed is what a replay did, for the checks at its end.
type replayed struct {
	e      *env
	queued []store.Job
	taken  []runnerJob
	sent   map[int64]string // the log chunks sent, by job
	empty  int              // 204 answers to jobs/request
	calls  []string
}

// each checks one answer against what the stock runner expects.
func (p *replayed) each(_ int, rec recorded, r reply, job *runnerJob) {
	t := p.e.t
	t.Helper()
	p.calls = append(p.calls, rec.Method+" "+rec.Path)
	switch {
	case rec.Path == "/api/v4/runners":
		p.checkRegistered(r)
	case rec.Path == "/api/v4/runners/verify":
		p.checkVerified(r)
	case rec.Path == "/api/v4/jobs/request" && len(p.taken) < len(p.queued):
		r.want(t, http.StatusCreated, "jobs/request with a job queued")
		checkRecordedJob(t, *job, p.queued[len(p.taken)])
		p.taken = append(p.taken, *job)
	case rec.Path == "/api/v4/jobs/request":
		r.want(t, http.StatusNoContent, "jobs/request with nothing queued")
		if r.header.Get("X-GitLab-Last-Update") == "" {
			t.Fatal("204 without X-GitLab-Last-Update")
		}
		p.empty++
	case rec.Method == "PATCH":
		r.want(t, http.StatusAccepted, "trace")
		var chunk string
		check(t, json.Unmarshal(rec.Body, &chunk))
		p.sent[job.ID] += chunk
		if want := fmt.Sprintf("0-%d", len(p.sent[job.ID])); r.header.Get("Range") != want {
			t.Fatalf("trace answer Range %q, want %q", r.header.Get("Range"), want)
		}
	case rec.Method == "PUT":
		r.want(t, http.StatusOK, "job update")
		if st := p.e.job(job.ID).Status; st != store.JobSuccess {
			t.Fatalf("job %d is %s after the runner reported success", job.ID, st)
		}
	default:
		t.Fatalf("unexpected request %s %s", rec.Method, rec.Path)
	}
}

func (p *replayed) checkRegistered(r reply) {
	t := p.e.t
	r.want(t, http.StatusCreated, "legacy registration")
	var reg registered
	check(t, json.Unmarshal(r.body, &reg))
	if reg.ID == 0 || !strings.HasPrefix(reg.Token, "glrt-") || reg.TokenExpiresAt != noExpiry {
		t.Fatalf("registration answer %s: want a runner id, a glrt- token and %s", r.body, noExpiry)
	}
	run := must(p.e.st.RunnerByToken(t.Context(), reg.Token))(t)
	if run.Description != "legacy" || !slices.Equal(run.Tags, []string{"a", "b"}) || run.RunUntagged {
		t.Fatalf("registered runner %+v: want description legacy, tags a,b, not run_untagged", run)
	}
}

func (p *replayed) checkVerified(r reply) {
	t := p.e.t
	r.want(t, http.StatusOK, "verify")
	var reg registered
	check(t, json.Unmarshal(r.body, &reg))
	if reg.ID != p.e.runner.ID || reg.Token != runnerTok || reg.TokenExpiresAt != noExpiry {
		t.Fatalf("verify answer %s: want id %d, the token, %s", r.body, p.e.runner.ID, noExpiry)
	}
}

// finish checks the counts and that the stored logs are what was sent
// (the recorded runner masked MY_SECRET itself: nothing is left to mask).
func (p *replayed) finish(jobs, empty int) {
	t := p.e.t
	t.Helper()
	if len(p.taken) != jobs || p.empty != empty {
		t.Fatalf("took %d jobs, %d empty polls; want %d and %d (calls %v)", len(p.taken), p.empty, jobs, empty, p.calls)
	}
	for id, s := range p.sent {
		if got := p.e.log(id); got != s {
			t.Fatalf("stored log of job %d:\n%q\nwant what the runner sent:\n%q", id, got, s)
		}
	}
}

// TestReplayRegister: the stock runner's legacy registration, its
// verification of a glrt- token, then one job.
func TestReplayRegister(t *testing.T) { testReplayRegister(t, newEnv(t)) }

func testReplayRegister(t *testing.T, e *env) {
	p := &replayed{e: e, queued: e.queueGitLab(recordedJob), sent: map[int64]string{}}
	e.replay("gitlab-runner-17.9.3-register.jsonl", p.each)
	p.finish(1, 0)
	if !slices.Contains(p.calls, "POST /api/v4/runners") || !slices.Contains(p.calls, "POST /api/v4/runners/verify") {
		t.Fatalf("replayed %v: want a registration and a verification", p.calls)
	}
	if run := must(e.st.RunnerByToken(t.Context(), runnerTok))(t); run.Contacted.IsZero() {
		t.Fatal("the runner's contact was not recorded")
	}
}

// TestReplayRun: the stock runner's polling, two jobs (one log in one
// chunk, one in two), their results and the empty polls that follow.
func TestReplayRun(t *testing.T) { testReplayRun(t, newEnv(t)) }

func testReplayRun(t *testing.T, e *env) {
	queued := append(e.queueGitLab(recordedJob), e.queueGitLab(recordedJob)...)
	p := &replayed{e: e, queued: queued, sent: map[int64]string{}}
	e.replay("gitlab-runner-17.9.3-run.jsonl", p.each)
	p.finish(2, 6)
	if p.taken[0].ID == p.taken[1].ID {
		t.Fatal("both polls got the same job")
	}
}

// checkRecordedJob checks the job document the stock runner ran.
func checkRecordedJob(t *testing.T, j runnerJob, want store.Job) {
	t.Helper()
	if j.ID != want.ID || j.Token == "" || j.JobInfo.Name != "job" || j.JobInfo.Stage != "test" {
		t.Fatalf("job %d %q/%q, token %q: want job %d named job in stage test, with a token", j.ID, j.JobInfo.Name,
			j.JobInfo.Stage, j.Token, want.ID)
	}
	g := j.GitInfo
	if g.RepoURL != externalURL+"/octo/hello.git" || g.Ref != "main" || g.RefType != "branch" ||
		g.Sha != "0123456789abcdef0123456789abcdef01234567" || len(g.Refspecs) == 0 {
		t.Fatalf("git_info %+v", g)
	}
	if len(j.Steps) != 2 || j.Steps[0].Name != "script" || j.Steps[0].When != "on_success" ||
		j.Steps[1].Name != "after_script" || j.Steps[1].When != "always" || j.Steps[0].Timeout == 0 {
		t.Fatalf("steps %+v: want script then after_script (always)", j.Steps)
	}
	if j.Image.Name != "busybox:1.35" || j.RunnerInfo.Timeout == 0 || !j.Features.TraceSections {
		t.Fatalf("image %q, timeout %d, trace_sections %v", j.Image.Name, j.RunnerInfo.Timeout, j.Features.TraceSections)
	}
	if v, masked, ok := j.variable("CI_JOB_TOKEN"); !ok || v != j.Token || !masked {
		t.Fatalf("CI_JOB_TOKEN %q masked=%v: want the job token, masked", v, masked)
	}
	if v, masked, _ := j.variable("MASKED_VAR"); v != maskedValue || !masked {
		t.Fatalf("MASKED_VAR %q masked=%v: want the repository variable, masked", v, masked)
	}
	if v, masked, _ := j.variable("PLAIN_VAR"); v != visibleValue || masked {
		t.Fatalf("PLAIN_VAR %q masked=%v: want the repository variable, not masked", v, masked)
	}
	if len(j.Credentials) != 1 || j.Credentials[0].Password != j.Token || j.Credentials[0].URL != "slipway.test:8080" {
		t.Fatalf("credentials %+v: want the job token for the server's host", j.Credentials)
	}
	s := j.Slipway
	if s == nil || string(s.Document) != string(want.Document) || s.Secrets["MY_SECRET"] != secretValue || s.Event != "push" {
		t.Fatalf("slipway extension %+v: want the stored document verbatim, the secrets and the event", s)
	}
}
