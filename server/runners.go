package server

import (
	"errors"
	"net/http"

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
	rn, token, err := s.mintRunner(r.Context(), store.Runner{Description: in.Description, Tags: in.Tags, RunUntagged: in.RunUntagged})
	if errors.Is(err, errNoTags) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RunnerTokenResponse{ID: rn.ID, Token: token})
}
