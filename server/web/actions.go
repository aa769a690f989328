package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/slipway-ci/slipway/server/store"
)

// cancel cancels a build's waiting jobs and asks the runners of its
// running ones to stop, then shows the build again.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	b, err := h.pathBuild(r, repo)
	if err == nil {
		err = h.opts.Store.CancelBuild(r.Context(), b.ID)
	}
	h.showBuild(w, r, repo, b, err)
}

// restart starts a new build of the same commit and shows it.
func (h *Handler) restart(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if h.opts.RestartBuild == nil {
		h.problem(w, r, &pageError{http.StatusNotImplemented, "This server cannot restart builds."})
		return
	}
	b, err := h.pathBuild(r, repo)
	if err == nil {
		b, err = h.opts.RestartBuild(r.Context(), repo, b.Number, *userOf(r))
	}
	h.showBuild(w, r, repo, b, err)
}

// play queues a manual job (GitLab's when: manual), which opens its build
// again if it had finished or was blocked, then shows the build, or the
// job's log when the form came from there (back=log).
func (h *Handler) play(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	job, b, err := h.repoJob(r, repo)
	if err == nil {
		_, err = h.opts.Store.Play(r.Context(), job.ID)
	}
	if errors.Is(err, store.ErrNotManual) {
		err = &pageError{http.StatusConflict, fmt.Sprintf("Job %s is %s: only a manual job that waits to be played can be played. Reload the build to see where it is.", job.Name, job.Status)}
	}
	if err == nil && r.PostFormValue("back") == "log" {
		http.Redirect(w, r, fmt.Sprintf("%s/-/jobs/%d/log", repoPath(repo), job.ID), http.StatusSeeOther)
		return
	}
	h.showBuild(w, r, repo, b, err)
}

// showBuild ends an action: its error as a page, else a redirect to the
// build (so that reloading does not post the form again).
func (h *Handler) showBuild(w http.ResponseWriter, r *http.Request, repo store.Repo, b store.Build, err error) {
	if err != nil {
		h.problem(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/-/builds/%d", repoPath(repo), b.Number), http.StatusSeeOther)
}

func (h *Handler) pathBuild(r *http.Request, repo store.Repo) (store.Build, error) {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	var b store.Build
	if err == nil {
		b, err = h.opts.Store.Build(r.Context(), repo.ID, n)
	}
	return b, notFound(err, "There is no build %s of %s.", r.PathValue("number"), repo.Slug())
}
