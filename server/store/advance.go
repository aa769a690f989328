package store

import (
	"fmt"
	"slices"
)

// CheckJobs rejects a build's job list that could never finish: a duplicate
// name, a need that names no job of the build, or needs that go round in a
// cycle. The dialects check their files first; this keeps the queue safe
// from any caller.
func CheckJobs(jobs []Job) error {
	index := make(map[string]int, len(jobs))
	for i, j := range jobs {
		if _, dup := index[j.Name]; dup {
			return fmt.Errorf("two jobs are named %q", j.Name)
		}
		index[j.Name] = i
	}
	for _, j := range jobs {
		for _, n := range j.Needs {
			if _, ok := index[n]; !ok {
				return fmt.Errorf("job %q needs %q, which is not a job of the build", j.Name, n)
			}
		}
	}
	return checkCycles(jobs, index)
}

// checkCycles walks the needs depth first; a job met again while still on
// the path closes a cycle.
func checkCycles(jobs []Job, index map[string]int) error {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(jobs))
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case onPath:
			return fmt.Errorf("job %q needs itself through its needs", jobs[i].Name)
		case done:
			return nil
		}
		state[i] = onPath
		for _, n := range jobs[i].Needs {
			if err := visit(index[n]); err != nil {
				return err
			}
		}
		state[i] = done
		return nil
	}
	for i := range jobs {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}

// Advance moves a build's waiting jobs on after some job changed: a created
// job whose needs are all done becomes pending, manual (When Manual: it
// waits to be played) or, when its When says it should not run, skipped. It repeats until nothing changes, because a
// skipped job may settle the jobs that need it. It returns the jobs it
// changed, with their new Status and UpstreamFailed.
func Advance(jobs []Job) []Job {
	jobs = slices.Clone(jobs)
	byName := make(map[string]*Job, len(jobs))
	for i := range jobs {
		byName[jobs[i].Name] = &jobs[i]
	}
	changed := map[int]bool{}
	for progress := true; progress; {
		progress = false
		for i := range jobs {
			if jobs[i].Status != JobCreated {
				continue
			}
			if next, upstream, ok := settle(jobs[i], byName); ok {
				jobs[i].Status, jobs[i].UpstreamFailed = next, upstream
				changed[i], progress = true, true
			}
		}
	}
	var out []Job
	for i := range jobs {
		if changed[i] {
			out = append(out, jobs[i])
		}
	}
	return out
}

// settle decides a created job's next status once all its needs are done.
// A manual job is not done until it is played and has run, so it holds
// the jobs that need it.
func settle(j Job, byName map[string]*Job) (next JobStatus, upstreamFailed, ok bool) {
	failed := false
	for _, n := range j.Needs {
		need := byName[n]
		if need == nil {
			continue // CheckJobs keeps this from happening
		}
		if !need.Status.Done() {
			return "", false, false
		}
		failed = failed || blocks(*need)
	}
	switch j.When {
	case Always:
		return JobPending, false, true
	case OnFailure:
		if failed {
			return JobPending, false, true
		}
		return JobSkipped, false, true
	case Manual:
		if failed {
			return JobSkipped, true, true
		}
		return JobManual, false, true
	default:
		if failed {
			return JobSkipped, true, true
		}
		return JobPending, false, true
	}
}

// blocks reports whether a done job stops the on_success jobs that need it.
func blocks(j Job) bool {
	switch j.Status {
	case JobFailed:
		return !j.AllowFailure
	case JobCanceled:
		return true
	case JobSkipped:
		return j.UpstreamFailed
	}
	return false
}

// Outcome is the build's status once it is finished; ok is false while
// some job is not done. Manual jobs not played, and the created jobs that
// wait for them, do not hold the build open when they allow failure (as
// on GitLab, where they look skipped): the build finishes without them,
// and Play opens it again. A manual job that does not allow failure holds
// it (see Blocked).
func Outcome(jobs []Job) (status BuildStatus, ok bool) {
	held := heldByManual(jobs)
	status = BuildSuccess
	for _, j := range jobs {
		switch {
		case j.Status == JobManual && !j.AllowFailure:
			return "", false
		case j.Status == JobManual || held[j.Name]:
			continue
		case !j.Status.Done():
			return "", false
		case j.Status == JobFailed && !j.AllowFailure:
			status = BuildFailed
		case j.Status == JobCanceled && status == BuildSuccess:
			status = BuildCanceled
		}
	}
	return status, true
}

// Blocked reports whether the build can go no further until someone plays
// a manual job that does not allow failure: every job not done waits for
// a manual job, and one of those does not allow failure.
func Blocked(jobs []Job) bool {
	held := heldByManual(jobs)
	blocked := false
	for _, j := range jobs {
		switch {
		case j.Status == JobManual:
			blocked = blocked || !j.AllowFailure
		case !j.Status.Done() && !held[j.Name]:
			return false
		}
	}
	return blocked
}

// heldByManual names the created jobs that wait, directly or through
// other created jobs, for a manual job that nobody played.
func heldByManual(jobs []Job) map[string]bool {
	status := make(map[string]JobStatus, len(jobs))
	for _, j := range jobs {
		status[j.Name] = j.Status
	}
	held := map[string]bool{}
	for progress := true; progress; {
		progress = false
		for _, j := range jobs {
			if j.Status != JobCreated || held[j.Name] {
				continue
			}
			for _, n := range j.Needs {
				if status[n] == JobManual || held[n] {
					held[j.Name], progress = true, true
					break
				}
			}
		}
	}
	return held
}
