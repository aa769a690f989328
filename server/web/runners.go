package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

// The runners page (administrators): every registered runner with its
// tags, when it was last heard from and the job it runs, and a form that
// mints a runner token and shows the command that registers a runner
// with it.

type runnerRow struct {
	Runner store.Runner
	Job    *store.Job
	JobURL string
}

type runnersData struct {
	page
	Runners  []runnerRow
	CanMint  bool
	Register string // the register command with a new token, shown once
}

func (h *Handler) runners(w http.ResponseWriter, r *http.Request) {
	h.showRunners(w, r, http.StatusOK, "", "")
}

func (h *Handler) showRunners(w http.ResponseWriter, r *http.Request, code int, problem, register string) {
	if !userOf(r).Admin {
		h.problem(w, r, &pageError{http.StatusForbidden, "Only administrators see the runners."})
		return
	}
	runners, err := h.opts.Store.ListRunners(r.Context())
	var running []store.Job
	if err == nil {
		running, err = h.opts.Store.RunningJobs(r.Context())
	}
	if err != nil {
		h.problem(w, r, err)
		return
	}
	rows := make([]runnerRow, len(runners))
	for i, rn := range runners {
		rows[i].Runner = rn
		for _, j := range running {
			if j.RunnerID == rn.ID {
				rows[i].Job = &j
				rows[i].JobURL = h.jobURL(r, j)
			}
		}
	}
	p := pageOf(r, "Runners")
	p.Error = problem
	h.render(w, code, "runners", runnersData{page: p, Runners: rows, CanMint: h.opts.MintRunnerToken != nil, Register: register})
}

// jobURL is the log page of a job, or "" when its build or repository
// went meanwhile.
func (h *Handler) jobURL(r *http.Request, j store.Job) string {
	b, err := h.opts.Store.BuildByID(r.Context(), j.BuildID)
	if err != nil {
		return ""
	}
	repo, err := h.opts.Store.RepoByID(r.Context(), b.RepoID)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s/-/jobs/%d/log", repoPath(repo), j.ID)
}

func (h *Handler) mintRunner(w http.ResponseWriter, r *http.Request) {
	if !userOf(r).Admin || h.opts.MintRunnerToken == nil {
		h.problem(w, r, &pageError{http.StatusForbidden, "Only administrators mint runner tokens."})
		return
	}
	var tags []string
	for _, t := range strings.FieldsFunc(r.PostFormValue("tags"), func(c rune) bool { return c == ',' || c == ' ' }) {
		tags = append(tags, strings.TrimSpace(t))
	}
	token, err := h.opts.MintRunnerToken(r.Context(), tags, r.PostFormValue("run_untagged") == "on")
	if err != nil {
		h.showRunners(w, r, http.StatusBadRequest, "Could not mint a token: "+err.Error(), "")
		return
	}
	// The token is shown in this answer only: it is not a redirect, and
	// the page is not cached (render sets no-store).
	h.showRunners(w, r, http.StatusOK, "", fmt.Sprintf("slipway runner register --url %s --token %s", siteURL(r), token))
}

// siteURL is the server's URL as the browser reached it.
func siteURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
