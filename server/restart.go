package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipway-ci/slipway/server/store"
)

// RestartBuild starts a new build of the commit, ref and event of build
// number, as Drone and Woodpecker restart: a new number, whose Parent
// records the build it restarts, triggered by by. The pipeline file is
// read again at that commit, with the repository's settings of now.
func (s *Server) RestartBuild(ctx context.Context, repo store.Repo, number int64, by store.User) (store.Build, error) {
	old, err := s.st.Build(ctx, repo.ID, number)
	if errors.Is(err, store.ErrNotFound) {
		return old, errorf(http.StatusNotFound, "%s has no build %d", repo.Slug(), number)
	}
	if err != nil {
		return old, err
	}
	if !commitHash.MatchString(old.Commit) {
		return store.Build{}, errorf(http.StatusConflict, "build %d has no commit to build again", number)
	}
	p := push{
		repo: repo, ref: plumbing.ReferenceName(old.Ref), sha: plumbing.NewHash(old.Commit),
		sender: by.Login, event: old.Event, parent: old.Number,
	}
	if old.Before != "" {
		p.before = plumbing.NewHash(old.Before)
	}
	b, err := s.buildPush(ctx, p)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		err = errorf(http.StatusConflict, "build %d's commit %s is no longer in %s's git", number, old.Commit, repo.Slug())
	}
	return b, err
}

// restartBuild is Drone's restart: POST /api/repos/{ns}/{name}/builds/{n}.
// Drone passes query parameters to the new build as variables; slipway
// does not, and says so rather than dropping them.
func (s *Server) restartBuild(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if len(r.URL.Query()) > 0 {
		httpError(w, errorf(http.StatusBadRequest, "slipway does not pass parameters to a restarted build (got %s)", r.URL.RawQuery))
		return
	}
	n, err := pathNumber(r, "number")
	var b store.Build
	if err == nil {
		b, err = s.RestartBuild(r.Context(), repo, n, userOf(r))
	}
	s.answerBuild(w, r, http.StatusOK, b, err)
}
