package gitlabapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/sqlite"
)

// Test values. The runner token and registration token are the ones of the
// recorded traffic in testdata.
const (
	externalURL  = "http://slipway.test:8080"
	regToken     = "LEGACYREGTOKEN"
	runnerTok    = "glrt-testtoken"
	secretValue  = "hunter2-Sup3rSecret"
	maskedValue  = "masked-var-VALUE-42"
	visibleValue = "plain-value"
)

// env is a real SQLite store with a repository (a secret, a masked and a
// plain variable) and a runner, behind the handler on a real HTTP server.
type env struct {
	t      *testing.T
	st     store.Store
	repo   store.Repo
	runner store.Runner
	srv    *httptest.Server
	url    string // where srv (or a whole server) answers
	h      *handler
}

// newEnv starts the handler on a SQLite store.
func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st)
}

func sealer(t *testing.T) store.Sealer {
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// newEnvOn starts the handler on st with a short poll, mounted as the
// server mounts it.
func newEnvOn(t *testing.T, st store.Store) *env {
	t.Helper()
	e := &env{t: t, st: st}
	ctx := t.Context()
	u := must(st.CreateUser(ctx, store.User{Login: "octocat", Admin: true}, "api-token"))(t)
	e.repo = must(st.CreateRepo(ctx, store.Repo{OwnerID: u.ID, Namespace: "octo", Name: "hello",
		ConfigPath: ".gitlab-ci.yml", MaxRequeues: -1}))(t)
	check(t, st.PutSecret(ctx, e.repo.ID, store.Secret{Name: "MY_SECRET", Value: secretValue}))
	check(t, st.PutVariable(ctx, e.repo.ID, store.Variable{Name: "MASKED_VAR", Value: maskedValue, Masked: true}))
	check(t, st.PutVariable(ctx, e.repo.ID, store.Variable{Name: "PLAIN_VAR", Value: visibleValue}))
	e.runner = must(st.CreateRunner(ctx, store.Runner{Description: "test", RunUntagged: true}, runnerTok))(t)
	e.serve(Options{RegistrationToken: regToken, ExternalURL: externalURL, Lease: time.Minute,
		PollTimeout: 300 * time.Millisecond})
	return e
}

// serve (re)starts the handler on the store, as a restarted server would.
func (e *env) serve(o Options) {
	if e.srv != nil {
		e.srv.Close()
	}
	e.h = New(e.st, o).(*handler)
	mux := http.NewServeMux()
	mux.Handle("/api/v4/", e.h)
	e.srv = httptest.NewServer(mux)
	e.url = e.srv.URL
	e.t.Cleanup(e.srv.Close)
}

// must(f())(t) is f's value; an error fails the test.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the API; body is JSON-encoded unless it is a
// []byte or string.
func (e *env) do(method, path string, body any, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		check(e.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, rd)
	check(e.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	check(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	check(e.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// want fails the test unless the answer has the status.
func (r reply) want(t *testing.T, status int, what string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	return r
}

// queueGitLab queues a build of a .gitlab-ci.yml: one store job per job of
// the file, each with a one-stage, one-job document, stage by stage.
func (e *env) queueGitLab(yml string) []store.Job {
	e.t.Helper()
	p, _, err := gitlab.Parse(".gitlab-ci.yml", []byte(yml), gitlab.Options{ProjectPath: e.repo.Slug()})
	check(e.t, err)
	return e.queue(p)
}

// queueDrone queues a build of a .drone.yml, one store job per pipeline.
func (e *env) queueDrone(yml string) []store.Job {
	e.t.Helper()
	p, _, err := drone.Parse(".drone.yml", []byte(yml), drone.Context{Branch: "main", Event: "push"})
	check(e.t, err)
	return e.queue(p)
}

func (e *env) queue(p *pipeline.Pipeline) []store.Job {
	e.t.Helper()
	var jobs []store.Job
	var earlier []string
	for _, s := range p.Stages {
		var names []string
		for _, j := range s.Jobs {
			one := &pipeline.Pipeline{File: p.File, Dialect: p.Dialect, Stages: []pipeline.Stage{{Name: s.Name, Jobs: []*pipeline.Job{j}}}}
			doc := must(pipeline.NewDocument(one))(e.t)
			data := must(doc.Encode())(e.t)
			jobs = append(jobs, store.Job{Name: j.Name, Stage: s.Name, Needs: earlier, Tags: j.Tags,
				AllowFailure: j.AllowFailure, Document: data})
			names = append(names, j.Name)
		}
		earlier = append(append([]string(nil), earlier...), names...)
	}
	_, out, err := e.st.CreateBuild(e.t.Context(), store.Build{RepoID: e.repo.ID, Event: "push", Ref: "refs/heads/main",
		Commit: "0123456789abcdef0123456789abcdef01234567", Sender: "octocat"}, jobs)
	check(e.t, err)
	return out
}

// request is a jobs/request of the test runner.
func (e *env) request() reply {
	e.t.Helper()
	return e.do("POST", "/api/v4/jobs/request", map[string]any{"token": runnerTok, "info": map[string]any{"executor": "docker"}})
}

// take claims a job through the API.
func (e *env) take() runnerJob {
	e.t.Helper()
	r := e.request().want(e.t, http.StatusCreated, "jobs/request")
	var j runnerJob
	check(e.t, json.Unmarshal(r.body, &j))
	return j
}

// patch sends a trace chunk at offset start.
func (e *env) patch(j runnerJob, start int, chunk string) reply {
	e.t.Helper()
	return e.do("PATCH", "/api/v4/jobs/"+strconv.FormatInt(j.ID, 10)+"/trace", chunk,
		"JOB-TOKEN", j.Token, "Content-Range", strconv.Itoa(start)+"-"+strconv.Itoa(start+len(chunk)-1))
}

// put sends a job update.
func (e *env) put(j runnerJob, state string, extra ...any) reply {
	e.t.Helper()
	body := map[string]any{"token": j.Token, "state": state}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return e.do("PUT", "/api/v4/jobs/"+strconv.FormatInt(j.ID, 10), body)
}

// log is the stored log of a job.
func (e *env) log(id int64) string {
	e.t.Helper()
	return string(must(e.st.ReadLog(e.t.Context(), id, 0, 0))(e.t))
}

func (e *env) job(id int64) store.Job {
	e.t.Helper()
	return must(e.st.Job(e.t.Context(), id))(e.t)
}

// runnerJob is the job as gitlab-runner 17.x decodes it (the fields its
// common.JobResponse reads, with their types), plus slipway's extension.
type runnerJob struct {
	ID            int64  `json:"id"`
	Token         string `json:"token"`
	AllowGitFetch bool   `json:"allow_git_fetch"`
	JobInfo       struct {
		Name        string `json:"name"`
		Stage       string `json:"stage"`
		ProjectID   int64  `json:"project_id"`
		ProjectName string `json:"project_name"`
	} `json:"job_info"`
	GitInfo struct {
		RepoURL   string   `json:"repo_url"`
		Ref       string   `json:"ref"`
		Sha       string   `json:"sha"`
		BeforeSha string   `json:"before_sha"`
		RefType   string   `json:"ref_type"`
		Refspecs  []string `json:"refspecs"`
		Depth     int      `json:"depth"`
	} `json:"git_info"`
	RunnerInfo struct {
		Timeout int `json:"timeout"`
	} `json:"runner_info"`
	Variables []struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Public bool   `json:"public"`
		File   bool   `json:"file"`
		Masked bool   `json:"masked"`
		Raw    bool   `json:"raw"`
	} `json:"variables"`
	Steps []struct {
		Name         string   `json:"name"`
		Script       []string `json:"script"`
		Timeout      int      `json:"timeout"`
		When         string   `json:"when"`
		AllowFailure bool     `json:"allow_failure"`
	} `json:"steps"`
	Image       runnerImage   `json:"image"`
	Services    []runnerImage `json:"services"`
	Credentials []struct {
		Type     string `json:"type"`
		URL      string `json:"url"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
	Features struct {
		TraceSections  bool     `json:"trace_sections"`
		FailureReasons []string `json:"failure_reasons"`
	} `json:"features"`
	Slipway *struct {
		Document json.RawMessage   `json:"document"`
		Secrets  map[string]string `json:"secrets"`
		Trusted  bool              `json:"trusted"`
		Event    string            `json:"event"`
	} `json:"slipway"`
}

type runnerImage struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias"`
	Entrypoint []string `json:"entrypoint"`
	Command    []string `json:"command"`
	Variables  []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"variables"`
	PullPolicy []string `json:"pull_policy"`
}

// variable is the value of the job's variable key, and whether it is there.
func (j runnerJob) variable(key string) (value string, masked, ok bool) {
	for _, v := range j.Variables {
		if v.Key == key {
			value, masked, ok = v.Value, v.Masked, true
		}
	}
	return value, masked, ok
}
