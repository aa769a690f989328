package runner

import (
	"time"
)

// Events receives what a run reports. The runner masks every secret before
// an implementation sees a byte or a string, so an implementation may
// print, store or upload what it gets. Jobs of a stage run at once:
// implementations must be safe for concurrent use. Printer is the
// terminal's implementation.
type Events interface {
	// Message is a line the runner itself says about the run or a job
	// (pulls, skips, warnings); job is "" for the run as a whole.
	Message(job, line string)
	// JobStarted: a job is about to pull and start its containers.
	JobStarted(j JobStart)
	// StepStarted: a step's container is about to run.
	StepStarted(job, step string)
	// Output is bytes a job's steps wrote, in order.
	Output(job string, p []byte)
	// ServiceOutput is bytes a service wrote (only with ServiceLogs).
	ServiceOutput(job, service string, p []byte)
	// ServiceWarning: a service probably did not start; text says why
	// and shows the last lines of its log.
	ServiceWarning(job, service, text string)
	// JobFinished: the job ended and its output is complete.
	JobFinished(res JobResult)
}

// JobStart describes a job that starts.
type JobStart struct {
	Name string
	// Images lists its steps' images and services, for people.
	Images string
	// Concurrent: other jobs run beside it, so their outputs interleave.
	Concurrent bool
}

// Result is how a run ended.
type Result struct {
	Jobs []JobResult
	// Dotenv are the variables of the jobs' dotenv reports (NAME=value),
	// by job: a runner agent hands them on with the job's artifacts.
	Dotenv map[string][]string
}

// JobResult is how one job ended.
type JobResult struct {
	Name     string
	Status   Status
	Duration time.Duration
	Reason   string
	// ExitCode is the exit code of the step that failed the job (0 when
	// none did or the job failed otherwise).
	ExitCode int
}

// Status of a job.
type Status string

const (
	Passed   Status = "passed"
	Failed   Status = "failed"
	Allowed  Status = "failed (allowed)"
	Skipped  Status = "skipped"
	Canceled Status = "canceled"
)

// Failed reports whether any job failed or was cancelled.
func (r Result) Failed() bool {
	for _, j := range r.Jobs {
		if j.Status == Failed || j.Status == Canceled {
			return true
		}
	}
	return false
}

// eventWriter is a job's output stream as events.
type eventWriter struct {
	events Events
	job    string
}

func (w eventWriter) Write(p []byte) (int, error) {
	w.events.Output(w.job, p)
	return len(p), nil
}

// serviceWriter is a service's output stream as events.
type serviceWriter struct {
	events       Events
	job, service string
}

func (w serviceWriter) Write(p []byte) (int, error) {
	w.events.ServiceOutput(w.job, w.service, p)
	return len(p), nil
}
