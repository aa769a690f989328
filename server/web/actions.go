package web

import (
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
	if err != nil {
		h.problem(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/-/builds/%d", repoPath(repo), b.Number), http.StatusSeeOther)
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
