package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
	"github.com/slipway-ci/slipway/runner"
	"github.com/slipway-ci/slipway/secret"
)

// outcome is how a job ended, as the final PUT says it.
type outcome struct {
	state    string // success or failed
	reason   string // failure_reason
	exitCode int
}

func failed(reason string) outcome { return outcome{state: "failed", reason: reason} }

// entry is one [[runners]] entry with its server.
type entry struct {
	cfg    config.Runner
	client *Client
}

// runJob runs a job the server gave and reports it. ctx ends only when
// running jobs are to be cancelled (a second Ctrl-C).
func (a *Agent) runJob(ctx context.Context, e entry, job *Job) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(jobTimeout(job), func() { timedOut.Store(true); cancel() })
	defer timer.Stop()
	report := context.WithoutCancel(ctx)
	tr := newTrace(e.client, job.ID, job.Token, cancel)
	defer tr.close()
	if a.TraceInterval > 0 {
		tr.interval = a.TraceInterval
	}
	if job.Slipway != nil && job.Slipway.LeaseSeconds > 0 {
		tr.leased(time.Duration(job.Slipway.LeaseSeconds * float64(time.Second)))
	}
	a.logf("job %d (%s): received from %s", job.ID, job.JobInfo.Name, e.cfg.URL)
	var out outcome
	if job.Slipway == nil {
		tr.Line("ERROR: this job has no slipway document: slipway runner runs only jobs of a slipway server")
		out = failed("runner_unsupported")
	} else {
		ans, err := e.client.Update(report, job.ID, Update{Token: job.Token, State: "running"})
		tr.heed(ans, err)
		tr.start(report)
		out = a.execute(ctx, e, job, tr)
		if timedOut.Load() && out.state != "success" {
			out.reason = "job_execution_timeout"
		}
	}
	if err := tr.finish(report); err != nil {
		a.logf("job %d: the log did not reach the server: %v", job.ID, err)
	}
	a.finish(report, e, job, tr, out)
}

// finish sends the final state, retrying while the server is not ready.
func (a *Agent) finish(ctx context.Context, e entry, job *Job, tr *trace, out outcome) {
	u := Update{Token: job.Token, State: out.state, FailureReason: out.reason, Output: tr.output()}
	u.Checksum = u.Output.Checksum
	if out.state == "failed" {
		u.ExitCode = &out.exitCode
	}
	if len(job.Features.FailureReasons) > 0 && u.FailureReason != "" && !slices.Contains(job.Features.FailureReasons, u.FailureReason) {
		u.FailureReason = "unknown_failure" // as gitlab-runner, for a server that lacks the reason
	}
	var err error
	for i := range 10 {
		_, err = e.client.Update(ctx, job.ID, u)
		var se *StatusError
		if err == nil || errors.As(err, &se) && se.final() {
			break
		}
		time.Sleep(time.Duration(i+1) * 300 * time.Millisecond)
	}
	if err != nil {
		a.logf("job %d: reporting %s: %v", job.ID, out.state, err)
		return
	}
	a.logf("job %d (%s): %s", job.ID, job.JobInfo.Name, out.state)
}

func jobTimeout(job *Job) time.Duration {
	if job.RunnerInfo.Timeout <= 0 {
		return 7200 * time.Second
	}
	return time.Duration(job.RunnerInfo.Timeout) * time.Second
}

// execute prepares the job's document with this runner's configuration,
// checks out its commit and runs it, writing the masked log to tr.
func (a *Agent) execute(ctx context.Context, e entry, job *Job, tr *trace) outcome {
	secrets := jobSecrets(job)
	masker := secret.NewMasker(secrets)
	say := func(format string, args ...any) { tr.Line("%s", masker.String(fmt.Sprintf(format, args...))) }
	say("Running with slipway runner %s on %s", Version, cmp.Or(e.cfg.Name, "(unnamed)"))
	doc, err := pipeline.DecodeDocument(job.Slipway.Document)
	if err != nil {
		say("ERROR: %v", err)
		return failed("runner_system_failure")
	}
	p, warns, err := plan.Prepare(doc.Pipeline, e.cfg, plan.Options{ConfigPath: a.ConfigPath,
		Trusted: job.Slipway.Trusted, TrustRemedy: trustRemedy(job), Secrets: secrets, Env: append(jobEnv(job), runnerEnv(e.cfg)...)})
	for _, w := range warns {
		say("WARNING: %s", w.Error())
	}
	if err != nil {
		say("ERROR: the job is refused: %v", err)
		return failed("script_failure")
	}
	co, err := a.jobCheckout(ctx, e, job, tr, masker, say)
	if err != nil {
		say("ERROR: %s", err)
		if errors.Is(err, errCheckoutDir) {
			return failed("runner_system_failure")
		}
		return failed("script_failure")
	}
	defer a.checkouts.release(co)
	ws := co.dir
	arts, err := os.MkdirTemp("", "slipway-artifacts-")
	if err != nil {
		say("ERROR: %v", err)
		return failed("runner_system_failure")
	}
	defer os.RemoveAll(arts)
	given, dotenv, err := fetchDependencies(ctx, e.client, job, arts, say)
	if err != nil {
		say("ERROR: %v", err)
		return failed("missing_dependency_failure")
	}
	r := a.Runner
	r.ServiceTimeout = e.cfg.Settings().ServiceTimeout()
	res := r.Run(ctx, p, runner.Options{ID: fmt.Sprintf("job%d-%s", job.ID, newID()), Workspace: ws,
		Events: runner.NewPrinter(tr), Artifacts: arts, Given: given, GivenDotenv: dotenv,
		Project: cacheProject(job.GitInfo.RepoURL)})
	out := outcomeOf(res)
	// The artifacts go up before the job's end is reported: the jobs
	// that need them may start as soon as it is.
	if err := uploadKept(ctx, e.client, job, arts, job.JobInfo.Name, res.Dotenv[job.JobInfo.Name], say); err != nil {
		say("ERROR: uploading artifacts: %v", err)
		if out.state == "success" {
			out = failed("runner_system_failure")
		}
	}
	return out
}

// jobCheckout is the job's commit checked out: by this job, its git
// output in the job's log, or by an earlier job of the same commit.
func (a *Agent) jobCheckout(ctx context.Context, e entry, job *Job, tr *trace, masker *secret.Masker, say func(string, ...any)) (*sharedCheckout, error) {
	co, reused, err := a.checkouts.get(ctx, checkoutKey(e.cfg.URL, job.GitInfo), func(ctx context.Context, dir string) error {
		say("Fetching %s at %s", job.GitInfo.RepoURL, job.GitInfo.Sha)
		gitOut := masker.Writer(tr)
		defer func() { _ = gitOut.Close() }()
		return checkout(ctx, dir, job.GitInfo, job.Token, gitOut)
	})
	if reused {
		say("Reusing the checkout of %s fetched for an earlier job", job.GitInfo.Sha)
	}
	return co, err
}

// outcomeOf reads the run's result: the document holds one job.
func outcomeOf(res runner.Result) outcome {
	for _, j := range res.Jobs {
		switch j.Status {
		case runner.Failed:
			return outcome{state: "failed", reason: "script_failure", exitCode: j.ExitCode}
		case runner.Canceled:
			return failed("job_canceled")
		}
	}
	return outcome{state: "success"}
}

// jobSecrets are the values masked in the log and given to from_secret:
// the repository's secrets, the masked variables and the job token. A
// masked variable named as a secret with another value is kept under a
// name no file can ask for, so that it is still masked.
func jobSecrets(job *Job) map[string]string {
	out := map[string]string{}
	for k, v := range job.Slipway.Secrets {
		out[k] = v
	}
	add := func(name, value string) {
		if old, ok := out[name]; ok && old != value {
			name = "variable " + name
		}
		out[name] = value
	}
	for _, v := range job.Variables {
		if v.Masked {
			add(v.Key, v.Value)
		}
	}
	add("CI_JOB_TOKEN", job.Token)
	return out
}

// trustRemedy is what a refusal on a server's runner tells its reader:
// the repository setting, not exec's --trusted.
func trustRemedy(job *Job) string {
	slug := "OWNER/NAME"
	if u, err := url.Parse(job.GitInfo.RepoURL); err == nil && strings.Trim(u.Path, "/") != "" {
		slug = strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	}
	return "an administrator marks the repository trusted: slipway repo trust " + slug
}

// jobEnv is the job's variables as NAME=VALUE.
func jobEnv(job *Job) []string {
	var out []string
	for _, v := range job.Variables {
		if v.Key != "" && !strings.Contains(v.Key, "=") {
			out = append(out, v.Key+"="+v.Value)
		}
	}
	return out
}
