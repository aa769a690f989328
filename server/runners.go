package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

// RunnerTokenRequest is the body of POST /api/slipway/runners: the
// settings of the runner the minted token stands for.
type RunnerTokenRequest struct {
	Tags        []string `json:"tags"`
	RunUntagged bool     `json:"run_untagged"`
	Description string   `json:"description"`
}

// RunnerTokenResponse carries the minted token; it is shown only here.
type RunnerTokenResponse struct {
	ID    int64  `json:"id"`
	Token string `json:"token"`
}

// createRunner mints a glrt- token for a new runner (administrators
// only), which `slipway runner register --token` then verifies.
func (s *Server) createRunner(w http.ResponseWriter, r *http.Request) {
	var in RunnerTokenRequest
	if !readJSON(w, r, &in, "a runner") {
		return
	}
	tags := slices.DeleteFunc(in.Tags, func(t string) bool { return strings.TrimSpace(t) == "" })
	if len(tags) == 0 && !in.RunUntagged {
		http.Error(w, "a runner with no tags must run untagged jobs, or it takes no job at all", http.StatusBadRequest)
		return
	}
	token := newToken("glrt-")
	rn, err := s.st.CreateRunner(r.Context(), store.Runner{Description: in.Description, Tags: tags, RunUntagged: in.RunUntagged}, token)
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RunnerTokenResponse{ID: rn.ID, Token: token})
}
