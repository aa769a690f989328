package gitlabapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/slipway-ci/slipway/server/store"
)

// jobUpdate is the body of PUT jobs/:id.
type jobUpdate struct {
	Token         string `json:"token"`
	State         string `json:"state"`
	FailureReason string `json:"failure_reason"`
	ExitCode      int    `json:"exit_code"`
}

// update is PUT jobs/:id: the runner says the job is running (which
// renews its lease) or how it ended.
func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	var req jobUpdate
	if !readJSON(w, r, &req) {
		return
	}
	job, tok, ok := h.jobAuth(w, r, req.Token)
	if !ok {
		return
	}
	switch req.State {
	case "running", "pending", "":
		if _, ok := h.renew(w, r, job); ok {
			w.WriteHeader(http.StatusOK)
		}
	case "success", "failed", "canceled":
		h.finish(w, r, job, tok, req)
	default:
		fail(w, http.StatusBadRequest, "state %q: want running, success, failed or canceled", req.State)
	}
}

// finish stores the rest of the log and records the job's end.
func (h *handler) finish(w http.ResponseWriter, r *http.Request, job store.Job, tok string, req jobUpdate) {
	if s := h.logs.existing(job.ID); s != nil {
		// A state of an earlier claim's log went with its runner.
		if err := h.finishTraceOf(r.Context(), job.ID, tok, s); err != nil {
			slog.Error("gitlab api: the end of a job log is lost", "job", job.ID, "err", err)
		}
		h.logs.drop(job.ID, s)
		s.mu.Unlock()
	}
	res := store.Result{Status: store.JobSuccess, ExitCode: req.ExitCode, FailureReason: req.FailureReason}
	switch {
	case req.State == "canceled" || req.State == "failed" && job.CancelRequested:
		res.Status = store.JobCanceled
	case req.State == "failed":
		res.Status = store.JobFailed
	}
	err := h.st.Finish(r.Context(), job.ID, job.RunnerID, res)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		fail(w, http.StatusForbidden, "403 Forbidden: job %d is no longer this runner's", job.ID)
		return
	case err != nil:
		internal(w, r, err)
		return
	}
	h.wake.Broadcast() // the jobs that needed this one may be pending now
	w.WriteHeader(http.StatusOK)
}

// jobAuth authenticates a job call by its job token (from the body, else
// the JOB-TOKEN or PRIVATE-TOKEN header) and checks that it is the token
// of the job in the path. A job that is not running has no valid token.
func (h *handler) jobAuth(w http.ResponseWriter, r *http.Request, body string) (store.Job, string, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		fail(w, http.StatusNotFound, "404 Not Found: job %q", r.PathValue("id"))
		return store.Job{}, "", false
	}
	tok := token(body, r, "JOB-TOKEN", "PRIVATE-TOKEN")
	job, err := h.st.JobByToken(r.Context(), tok)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && job.ID != id:
		fail(w, http.StatusForbidden, "403 Forbidden: not the token of running job %d", id)
		return store.Job{}, "", false
	case err != nil:
		internal(w, r, err)
		return store.Job{}, "", false
	}
	return job, tok, true
}

// renew extends the job's lease and tells the runner, by Job-Status, when
// the build was cancelled.
func (h *handler) renew(w http.ResponseWriter, r *http.Request, job store.Job) (store.Job, bool) {
	j, err := h.st.Renew(r.Context(), job.ID, job.RunnerID, h.o.Lease)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		fail(w, http.StatusForbidden, "403 Forbidden: job %d is no longer this runner's", job.ID)
		return job, false
	case err != nil:
		internal(w, r, err)
		return job, false
	}
	if j.CancelRequested {
		w.Header().Set("Job-Status", "canceled")
	}
	return j, true
}
