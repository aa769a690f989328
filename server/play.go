package server

import (
	"errors"
	"net/http"

	"github.com/slipway-ci/slipway/server/store"
)

// playJob starts a manual job: POST
// /api/repos/{ns}/{name}/builds/{number}/jobs/{job}/play, the job named by
// its name or its 1-based position. The job goes to the queue, and its
// build runs again if it had finished without it or was blocked by it.
// The answer is the build.
func (s *Server) playJob(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	j, err := s.buildJob(r, repo)
	if err == nil {
		_, err = s.st.Play(r.Context(), j.ID)
		if errors.Is(err, store.ErrNotManual) {
			err = errorf(http.StatusConflict, "job %s is %s, not a manual job waiting to be played", j.Name, j.Status)
		}
	}
	var b store.Build
	if err == nil {
		b, err = s.st.BuildByID(r.Context(), j.BuildID)
	}
	s.answerBuild(w, r, http.StatusOK, b, err)
}
