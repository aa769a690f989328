// Package agent is `slipway runner`: it registers with a server that
// speaks the GitLab Runner API (v4), takes jobs from it, runs them with
// the same plan and runner code as `slipway exec`, and streams each job's
// masked log and result back. Jobs carry slipway's own document of the
// job (the "slipway" field of the job JSON); the GitLab fields that a
// stock gitlab-runner reads are not run.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Version is what the runner reports to the server.
var Version = "dev"

// Client speaks the GitLab Runner API v4 of one server.
type Client struct {
	// URL is the server's base URL, without /api/v4.
	URL  string
	HTTP *http.Client
}

// StatusError is an answer the call did not expect.
type StatusError struct {
	Call string
	Code int
	Body string
}

// final is an answer no retry will change.
func (e *StatusError) final() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusConflict && e.Code != http.StatusTooManyRequests
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: server answered %d", e.Call, e.Code)
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// RegisterResponse is the answer to POST runners and runners/verify.
type RegisterResponse struct {
	ID    int64  `json:"id"`
	Token string `json:"token"`
}

// Info is the runner's description in jobs/request, as gitlab-runner's.
type Info struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	Executor string          `json:"executor,omitempty"`
	Features map[string]bool `json:"features"`
}

// features are what this runner does of what gitlab-runner announces.
func features() map[string]bool {
	return map[string]bool{"variables": true, "image": true, "services": true, "masking": true,
		"cancelable": true, "cancel_gracefully": true, "trace_reset": true, "trace_checksum": true,
		"trace_size": true, "return_exit_code": true, "refspecs": true, "raw_variables": true,
		"multi_build_steps": true, "artifacts": true}
}

// Job is the part of jobs/request's answer this runner reads.
type Job struct {
	ID         int64      `json:"id"`
	Token      string     `json:"token"`
	JobInfo    JobInfo    `json:"job_info"`
	GitInfo    GitInfo    `json:"git_info"`
	RunnerInfo RunnerInfo `json:"runner_info"`
	Variables  []Variable `json:"variables"`
	Features   struct {
		// FailureReasons are those the server knows (all when empty).
		FailureReasons []string `json:"failure_reasons"`
	} `json:"features"`
	// Dependencies are the earlier jobs whose artifacts this one gets.
	Dependencies []Dependency `json:"dependencies"`
	// Slipway is the extension stock runners ignore; nil when the server
	// sent none.
	Slipway *Extension `json:"slipway"`
}

// JobInfo names the job.
type JobInfo struct {
	Name        string `json:"name"`
	Stage       string `json:"stage"`
	ProjectName string `json:"project_name"`
}

// GitInfo says what to check out.
type GitInfo struct {
	RepoURL  string   `json:"repo_url"`
	Ref      string   `json:"ref"`
	Sha      string   `json:"sha"`
	RefType  string   `json:"ref_type"`
	Refspecs []string `json:"refspecs"`
	Depth    int      `json:"depth"`
}

// RunnerInfo bounds the job; Timeout 0 means 7200 s.
type RunnerInfo struct {
	Timeout int `json:"timeout"`
}

// Variable is one of the job's variables.
type Variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
	File   bool   `json:"file"`
}

// Extension is slipway's field of the job: what it runs, and how.
type Extension struct {
	Document json.RawMessage   `json:"document"`
	Secrets  map[string]string `json:"secrets"`
	Trusted  bool              `json:"trusted"`
	Event    string            `json:"event"`
	// LeaseSeconds is how long the server keeps the job this runner's
	// without hearing from it (0: not said).
	LeaseSeconds float64 `json:"lease_seconds"`
}

// Update is the body of PUT jobs/:id.
type Update struct {
	Token         string  `json:"token"`
	State         string  `json:"state"`
	FailureReason string  `json:"failure_reason,omitempty"`
	ExitCode      *int    `json:"exit_code,omitempty"`
	Checksum      string  `json:"checksum,omitempty"`
	Output        *Output `json:"output,omitempty"`
}

// Output describes the whole trace in the final update.
type Output struct {
	Checksum string `json:"checksum"`
	Bytesize int    `json:"bytesize"`
}

// Answer is what the job calls' answers tell besides their status.
type Answer struct {
	// JobStatus is the Job-Status header: "canceled", "canceling" or
	// "failed" ask the runner to stop the job.
	JobStatus string
	// Interval is X-GitLab-Trace-Update-Interval in seconds (0: none).
	Interval int
}

// Cancels reports whether the server asks to stop the job.
func (a Answer) Cancels() bool {
	switch a.JobStatus {
	case "canceled", "canceling", "failed":
		return true
	}
	return false
}

func answerOf(resp *http.Response) Answer {
	n, _ := strconv.Atoi(resp.Header.Get("X-GitLab-Trace-Update-Interval"))
	return Answer{JobStatus: resp.Header.Get("Job-Status"), Interval: n}
}

// call sends one request; body is JSON unless it is raw bytes.
func (c *Client) call(ctx context.Context, method, path string, hdr http.Header, body any) (*http.Response, []byte, error) {
	// A connection to a server that vanished without a word (a cut
	// network) must not hang the runner: a long poll is held ~50 s.
	timeout := 30 * time.Second
	if path == "jobs/request" {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/plain"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+"/api/v4/"+path, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "slipway-runner "+Version)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp, data, err
}

func tokenHeader(name, token string) http.Header {
	return http.Header{name: {token}}
}

// Verify checks a glrt- authentication token (POST runners/verify).
func (c *Client) Verify(ctx context.Context, token, systemID string) (RegisterResponse, error) {
	body := map[string]string{"token": token, "system_id": systemID}
	return c.register(ctx, "runners/verify", http.StatusOK, token, body)
}

// RegisterLegacy registers with a registration token (POST runners).
func (c *Client) RegisterLegacy(ctx context.Context, regToken, name string, tags []string, runUntagged bool) (RegisterResponse, error) {
	body := map[string]any{"token": regToken, "description": name, "tag_list": strings.Join(tags, ","),
		"run_untagged": runUntagged, "locked": true, "paused": false,
		"info": Info{Name: "slipway", Version: Version, Features: features()}}
	return c.register(ctx, "runners", http.StatusCreated, regToken, body)
}

func (c *Client) register(ctx context.Context, path string, want int, token string, body any) (RegisterResponse, error) {
	var out RegisterResponse
	resp, data, err := c.call(ctx, http.MethodPost, path, tokenHeader("Private-Token", token), body)
	if err != nil {
		return out, err
	}
	if resp.StatusCode != want {
		return out, &StatusError{Call: "POST " + path, Code: resp.StatusCode, Body: string(data)}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("POST %s: %w", path, err)
	}
	if out.Token == "" {
		out.Token = token // runners/verify may answer without it
	}
	return out, nil
}

// Request asks for a job (POST jobs/request). It returns nil and no error
// when the server has none; lastUpdate is the server's
// X-GitLab-Last-Update, sent back with the next request.
func (c *Client) Request(ctx context.Context, token, systemID string, info Info, lastUpdate string) (job *Job, next string, err error) {
	body := map[string]any{"token": token, "system_id": systemID, "info": info}
	if lastUpdate != "" {
		body["last_update"] = lastUpdate
	}
	resp, data, err := c.call(ctx, http.MethodPost, "jobs/request", tokenHeader("Private-Token", token), body)
	if err != nil {
		return nil, lastUpdate, err
	}
	next = resp.Header.Get("X-GitLab-Last-Update")
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, next, nil
	case http.StatusCreated:
	default:
		return nil, next, &StatusError{Call: "POST jobs/request", Code: resp.StatusCode, Body: string(data)}
	}
	job = &Job{}
	if err := json.Unmarshal(data, job); err != nil {
		return nil, next, fmt.Errorf("POST jobs/request: the job: %w", err)
	}
	return job, next, nil
}

// Update sends the job's state (PUT jobs/:id).
func (c *Client) Update(ctx context.Context, id int64, u Update) (Answer, error) {
	path := fmt.Sprintf("jobs/%d", id)
	resp, data, err := c.call(ctx, http.MethodPut, path, tokenHeader("Job-Token", u.Token), u)
	if err != nil {
		return Answer{}, err
	}
	a := answerOf(resp)
	if resp.StatusCode != http.StatusOK {
		return a, &StatusError{Call: "PUT " + path, Code: resp.StatusCode, Body: string(data)}
	}
	return a, nil
}

// Patch appends data at offset start of the job's trace (PATCH
// jobs/:id/trace). It returns the length the server now holds: start +
// len(data) when accepted, the server's own length when it answers 416.
func (c *Client) Patch(ctx context.Context, id int64, token string, start int, data []byte) (int, Answer, error) {
	path := fmt.Sprintf("jobs/%d/trace", id)
	hdr := tokenHeader("Job-Token", token)
	hdr.Set("Content-Range", fmt.Sprintf("%d-%d", start, start+len(data)-1))
	resp, body, err := c.call(ctx, http.MethodPatch, path, hdr, data)
	if err != nil {
		return start, Answer{}, err
	}
	a := answerOf(resp)
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusRequestedRangeNotSatisfiable:
		n, ok := rangeEnd(resp.Header.Get("Range"))
		if !ok {
			n = start
			if resp.StatusCode == http.StatusAccepted {
				n = start + len(data)
			}
		}
		return n, a, nil
	}
	return start, a, &StatusError{Call: "PATCH " + path, Code: resp.StatusCode, Body: string(body)}
}

// rangeEnd reads "0-N" (the length the server holds) of a Range header.
func rangeEnd(h string) (int, bool) {
	_, end, ok := strings.Cut(h, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(end))
	return n, err == nil && n >= 0
}
