package gitlabapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/store"
)

// jobResponse is the 201 of jobs/request: GitLab's job, as a stock
// gitlab-runner reads it, plus slipway's extension.
type jobResponse struct {
	ID            int64          `json:"id"`
	Token         string         `json:"token"`
	AllowGitFetch bool           `json:"allow_git_fetch"`
	JobInfo       jobInfo        `json:"job_info"`
	GitInfo       gitInfo        `json:"git_info"`
	RunnerInfo    runnerInfo     `json:"runner_info"`
	Variables     []variable     `json:"variables"`
	Steps         []step         `json:"steps"`
	Image         imageSpec      `json:"image"`
	Services      []imageSpec    `json:"services"`
	Artifacts     []artifactSpec `json:"artifacts"`
	Cache         []any          `json:"cache"`
	Credentials   []credential   `json:"credentials"`
	Dependencies  []dependency   `json:"dependencies"`
	Features      features       `json:"features"`
	Slipway       slipwayPayload `json:"slipway"`
}

type jobInfo struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Stage       string `json:"stage"`
	ProjectID   int64  `json:"project_id"`
	ProjectName string `json:"project_name"`
	PipelineID  int64  `json:"pipeline_id"`
}

type gitInfo struct {
	RepoURL   string   `json:"repo_url"`
	Ref       string   `json:"ref"`
	SHA       string   `json:"sha"`
	BeforeSHA string   `json:"before_sha"`
	RefType   string   `json:"ref_type"`
	Refspecs  []string `json:"refspecs"`
	Depth     int      `json:"depth"`
}

type runnerInfo struct {
	Timeout int64 `json:"timeout"`
}

type variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Public bool   `json:"public"`
	File   bool   `json:"file"`
	Masked bool   `json:"masked"`
	Raw    bool   `json:"raw"`
}

type step struct {
	Name         string   `json:"name"`
	Script       []string `json:"script"`
	Timeout      int64    `json:"timeout"`
	When         string   `json:"when"`
	AllowFailure bool     `json:"allow_failure"`
}

// imageSpec is GitLab's image and service shape.
type imageSpec struct {
	Name       string       `json:"name,omitempty"`
	Alias      string       `json:"alias,omitempty"`
	Entrypoint []string     `json:"entrypoint,omitempty"`
	Command    []string     `json:"command,omitempty"`
	Ports      []any        `json:"ports"`
	Variables  []serviceVar `json:"variables,omitempty"`
	PullPolicy []string     `json:"pull_policy,omitempty"`
}

type serviceVar struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type credential struct {
	Type     string `json:"type"`
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type features struct {
	TraceSections  bool     `json:"trace_sections"`
	FailureReasons []string `json:"failure_reasons"`
}

// slipwayPayload is what slipway's runner needs beyond GitLab's fields
// (stock runners ignore it): the job's document, run with plan.Prepare.
type slipwayPayload struct {
	Document json.RawMessage   `json:"document"`
	Secrets  map[string]string `json:"secrets"`
	Trusted  bool              `json:"trusted"`
	Event    string            `json:"event"`
	// LeaseSeconds is how long the job stays the runner's without a
	// trace or status call: a runner that cannot reach the server for
	// that long stops the job, since the server gives it to another.
	LeaseSeconds float64 `json:"lease_seconds"`
}

// failureReasons are the failure_reason values the server understands.
var failureReasons = []string{"unknown_failure", "script_failure", "api_failure", "stuck_or_timeout_failure",
	"runner_system_failure", "missing_dependency_failure", "runner_unsupported", "job_execution_timeout",
	"unmet_prerequisites", "data_integrity_failure"}

// defaultTimeout is a job's timeout when its file sets none (GitLab's
// project default, one hour).
const defaultTimeout = 3600

// jobContext is what a job's answer is made from.
type jobContext struct {
	claimed store.Claimed
	doc     *pipeline.Document
	job     *pipeline.Job
	build   store.Build
	repo    store.Repo
	secrets map[string]string
	vars    []store.Variable
}

// jobResponse makes the answer for a claimed job.
func (h *handler) jobResponse(ctx context.Context, c store.Claimed) (*jobResponse, error) {
	jc, err := h.load(ctx, c)
	if err != nil {
		return nil, err
	}
	resp := &jobResponse{
		ID: c.Job.ID, Token: c.Token, AllowGitFetch: true,
		JobInfo: jobInfo{ID: c.Job.ID, Name: c.Job.Name, Stage: c.Job.Stage, ProjectID: jc.repo.ID,
			ProjectName: jc.repo.Name, PipelineID: jc.build.ID},
		GitInfo:     h.gitInfo(jc),
		RunnerInfo:  runnerInfo{Timeout: timeout(jc.job)},
		Variables:   h.variables(jc),
		Services:    []imageSpec{},
		Artifacts:   artifactSpecs(jc.job),
		Cache:       []any{},
		Credentials: h.credentials(c.Token),
		Features:    features{TraceSections: true, FailureReasons: failureReasons},
		Slipway: slipwayPayload{Document: json.RawMessage(c.Job.Document), Secrets: jc.secrets,
			Trusted: jc.repo.Trusted, Event: jc.build.Event, LeaseSeconds: h.o.Lease.Seconds()},
	}
	if resp.Dependencies, err = h.dependencies(ctx, jc); err != nil {
		return nil, err
	}
	if jc.doc.Pipeline.Dialect == pipeline.GitLab {
		resp.Steps, resp.Image, resp.Services = gitlabSteps(jc.job), jobImage(jc.job), services(jc.job)
	} else {
		resp.Steps = unsupportedSteps(jc)
	}
	return resp, nil
}

// load reads the job's document, build, repository, secrets and variables.
func (h *handler) load(ctx context.Context, c store.Claimed) (*jobContext, error) {
	doc, err := pipeline.DecodeDocument(c.Job.Document)
	if err != nil {
		return nil, err
	}
	jobs := doc.Pipeline.Jobs()
	if len(jobs) != 1 {
		return nil, fmt.Errorf("job document holds %d jobs, want one", len(jobs))
	}
	jc := &jobContext{claimed: c, doc: doc, job: jobs[0]}
	if jc.build, err = h.st.BuildByID(ctx, c.Job.BuildID); err != nil {
		return nil, fmt.Errorf("build %d: %w", c.Job.BuildID, err)
	}
	if jc.repo, err = h.st.RepoByID(ctx, jc.build.RepoID); err != nil {
		return nil, fmt.Errorf("repository %d: %w", jc.build.RepoID, err)
	}
	if jc.secrets, err = revealFor(ctx, h.st, jc.repo.ID, jc.build.Event); err != nil {
		return nil, err
	}
	if jc.vars, err = h.st.ListVariables(ctx, jc.repo.ID); err != nil {
		return nil, fmt.Errorf("variables of %s: %w", jc.repo.Slug(), err)
	}
	return jc, nil
}

// revealFor is the repository's secrets a build of the event may have: a
// pull request sees only the secrets allowed to pull requests.
func revealFor(ctx context.Context, st store.Store, repoID int64, event string) (map[string]string, error) {
	list, err := st.RevealSecrets(ctx, repoID)
	if err != nil {
		return nil, fmt.Errorf("secrets of repository %d: %w", repoID, err)
	}
	out := make(map[string]string, len(list))
	for _, s := range list {
		if event != "pull_request" || s.PullRequest {
			out[s.Name] = s.Value
		}
	}
	return out, nil
}

// repoURL is where runners clone the repository from.
func (h *handler) repoURL(r store.Repo) string {
	return h.o.ExternalURL + "/" + r.Namespace + "/" + r.Name + ".git"
}

func (h *handler) gitInfo(jc *jobContext) gitInfo {
	g := gitInfo{RepoURL: h.repoURL(jc.repo), SHA: jc.build.Commit, BeforeSHA: strings.Repeat("0", 40)}
	switch ref := jc.build.Ref; {
	case strings.HasPrefix(ref, "refs/tags/"):
		g.Ref, g.RefType = strings.TrimPrefix(ref, "refs/tags/"), "tag"
		g.Refspecs = []string{"+" + ref + ":" + ref}
	default:
		g.Ref, g.RefType = strings.TrimPrefix(ref, "refs/heads/"), "branch"
		g.Refspecs = []string{"+" + ref + ":refs/remotes/origin/" + g.Ref}
	}
	return g
}

// credentials let the runner authenticate to the server's own host with
// the job token, as GitLab does for its registry.
func (h *handler) credentials(jobToken string) []credential {
	u, err := url.Parse(h.o.ExternalURL)
	if err != nil || u.Host == "" {
		return []credential{}
	}
	return []credential{{Type: "registry", URL: u.Host, Username: "gitlab-ci-token", Password: jobToken}}
}

func timeout(j *pipeline.Job) int64 {
	if j.Timeout > 0 {
		return int64(j.Timeout.Seconds())
	}
	return defaultTimeout
}

// variables are the job's variables from its file (resolved by the
// dialect), then the server's own predefined ones, then the repository's
// variables: each later one overrides an earlier one of the same name, as
// GitLab's project variables override the file's.
func (h *handler) variables(jc *jobContext) []variable {
	var vs varList
	for _, e := range jc.job.Variables {
		if e.FromSecret == "" && !runnerOwned[e.Name] {
			vs.set(variable{Key: e.Name, Value: e.Value, Public: true, File: e.File})
		}
	}
	for _, v := range h.predefined(jc) {
		vs.set(v)
	}
	for _, v := range jc.vars {
		vs.set(variable{Key: v.Name, Value: v.Value, Masked: v.Masked})
	}
	return vs.list
}

// runnerOwned are predefined variables the dialect works out for a local
// run that a runner sets itself: where it checks out depends on its
// executor (a stock runner takes the job's values over its own).
var runnerOwned = map[string]bool{"CI_BUILDS_DIR": true, "CI_PROJECT_DIR": true}

// predefined are the CI_ variables only the server knows.
func (h *handler) predefined(jc *jobContext) []variable {
	id := strconv.FormatInt(jc.claimed.Job.ID, 10)
	pub := func(k, v string) variable { return variable{Key: k, Value: v, Public: true} }
	vars := []variable{
		pub("CI", "true"), pub("GITLAB_CI", "true"),
		pub("CI_JOB_ID", id),
		{Key: "CI_JOB_TOKEN", Value: jc.claimed.Token, Masked: true},
		pub("CI_PIPELINE_ID", strconv.FormatInt(jc.build.ID, 10)),
		pub("CI_PIPELINE_IID", strconv.FormatInt(jc.build.Number, 10)),
		pub("CI_PROJECT_ID", strconv.FormatInt(jc.repo.ID, 10)),
		pub("CI_REPOSITORY_URL", h.repoURL(jc.repo)),
	}
	if u, err := url.Parse(h.o.ExternalURL); err == nil && u.Host != "" {
		vars = append(vars, pub("CI_SERVER_URL", h.o.ExternalURL), pub("CI_SERVER_HOST", u.Hostname()),
			pub("CI_SERVER_PROTOCOL", u.Scheme), pub("CI_PROJECT_URL", h.o.ExternalURL+"/"+jc.repo.Slug()),
			pub("CI_JOB_URL", h.o.ExternalURL+"/"+jc.repo.Slug()+"/-/jobs/"+id))
		if p := u.Port(); p != "" {
			vars = append(vars, pub("CI_SERVER_PORT", p))
		}
	}
	return vars
}

// varList keeps variables in first-seen order, the last value winning.
type varList struct {
	list  []variable
	index map[string]int
}

func (l *varList) set(v variable) {
	if l.index == nil {
		l.index = map[string]int{}
	}
	if i, ok := l.index[v.Key]; ok {
		l.list[i] = v
		return
	}
	l.index[v.Key] = len(l.list)
	l.list = append(l.list, v)
}
