package gitlabapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// jobRequest is the body of POST jobs/request.
type jobRequest struct {
	runnerBody
	LastUpdate string `json:"last_update"`
}

// request is POST jobs/request, a long poll: it answers 201 with a job as
// soon as one this runner may take is pending, else 204 after PollTimeout.
func (h *handler) request(w http.ResponseWriter, r *http.Request) {
	var req jobRequest
	run, _, ok := h.runner(w, r, &req)
	if !ok {
		return
	}
	h.touch(r, run)
	ctx, cancel := context.WithTimeout(r.Context(), h.o.PollTimeout)
	defer cancel()
	for {
		// Listen before claiming: a job queued between a claim that
		// found nothing and the wait still wakes it.
		queued := h.st.QueueChanged()
		resp, err := h.claim(ctx, run)
		switch {
		case err == nil:
			writeJSON(w, http.StatusCreated, resp)
			return
		case !errors.Is(err, store.ErrNoJob):
			slog.Error("gitlab api: claim", "runner", run.ID, "err", err)
			fail(w, http.StatusServiceUnavailable, "the job queue is not available; try again later")
			return
		}
		if !h.waitForJob(ctx, queued) {
			break
		}
	}
	// GitLab's queue version; gitlab-runner sends it back as last_update.
	w.Header().Set("X-GitLab-Last-Update", strconv.FormatInt(time.Now().UnixNano(), 36))
	w.WriteHeader(http.StatusNoContent)
}

// waitForJob waits until a job may have become pending: the store made one
// pending (queued), this handler failed one it could not send, or the
// retry interval passed (a job queued by another server process sharing
// the database). False when the poll is over.
func (h *handler) waitForJob(ctx context.Context, queued <-chan struct{}) bool {
	t := time.NewTimer(h.retry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-h.wake.Wait():
	case <-queued:
	}
	return true
}

// claim takes a job for the runner and writes what it is sent. A job whose
// document cannot be sent is failed at once, so that it does not come back.
func (h *handler) claim(ctx context.Context, run store.Runner) (*jobResponse, error) {
	// Once a claim starts it finishes, even if the poll ends meanwhile: a
	// claim cut short could lease a job that nobody is sent.
	ctx = context.WithoutCancel(ctx)
	for {
		c, err := h.st.Claim(ctx, run.ID, run.Tags, run.RunUntagged, h.o.Lease)
		if err != nil {
			return nil, err
		}
		resp, err := h.jobResponse(ctx, c)
		if err == nil {
			return resp, nil
		}
		slog.Error("gitlab api: job cannot be sent", "job", c.Job.ID, "err", err)
		res := store.Result{Status: store.JobFailed, ExitCode: 1, FailureReason: "data_integrity_failure: " + err.Error()}
		if err := h.st.Finish(ctx, c.Job.ID, run.ID, res); err != nil {
			return nil, err
		}
		h.wake.Broadcast()
	}
}
