package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipway-ci/slipway/server/store"
)

// slipway's own API beside Drone's: what the drone CLI has no call for
// (variables, starting and cancelling builds, live logs).

func (s *Server) apiRoutes(mux *http.ServeMux) {
	const repo = "/api/repos/{ns}/{name}"
	mux.Handle("GET "+repo+"/variables", s.authed(s.withRepo(s.listVariables)))
	mux.Handle("POST "+repo+"/variables", s.authed(s.withRepo(s.putVariable)))
	mux.Handle("DELETE "+repo+"/variables/{var}", s.authed(s.withRepo(deleteNamed("var", s.st.DeleteVariable))))
	mux.Handle("POST "+repo+"/builds", s.authed(s.withRepo(s.startBuild)))
	mux.Handle("POST "+repo+"/builds/{number}/cancel", s.authed(s.withRepo(s.cancelBuild)))
	mux.Handle("POST "+repo+"/builds/{number}", s.authed(s.withRepo(s.restartBuild)))
	mux.Handle("DELETE "+repo+"/builds/{number}", s.authed(s.withRepo(s.cancelBuild))) // drone build stop
	mux.Handle("POST "+repo+"/builds/{number}/jobs/{job}/play", s.authed(s.withRepo(s.playJob)))
	mux.Handle("GET "+repo+"/builds/{number}/logs/{job}/stream", s.authed(s.withRepo(s.streamLog)))
}

// Variable is a repository variable as the API shows it: a masked
// variable's value is never sent back.
type Variable struct {
	Name   string `json:"name"`
	Value  string `json:"value,omitempty"`
	Masked bool   `json:"masked"`
}

func (s *Server) listVariables(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	vars, err := s.st.ListVariables(r.Context(), repo.ID)
	if err != nil {
		httpError(w, err)
		return
	}
	out := []Variable{}
	for _, v := range vars {
		out = append(out, variableJSON(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func variableJSON(v store.Variable) Variable {
	if v.Masked {
		v.Value = ""
	}
	return Variable{Name: v.Name, Value: v.Value, Masked: v.Masked}
}

func (s *Server) putVariable(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	var in Variable
	if !readJSON(w, r, &in, "a variable") {
		return
	}
	if in.Name == "" {
		http.Error(w, "a variable needs a name", http.StatusBadRequest)
		return
	}
	v := store.Variable{Name: in.Name, Value: in.Value, Masked: in.Masked}
	if err := s.st.PutVariable(r.Context(), repo.ID, v); err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, variableJSON(v))
}

// deleteNamed removes what the path's key names with del (a secret, a
// variable).
func deleteNamed(key string, del func(context.Context, int64, string) error) func(http.ResponseWriter, *http.Request, store.Repo) {
	return func(w http.ResponseWriter, r *http.Request, repo store.Repo) {
		if err := del(r.Context(), repo.ID, r.PathValue(key)); err != nil {
			httpError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// StartRequest is the body of POST /api/repos/{ns}/{name}/builds.
type StartRequest struct {
	// Ref is a branch, a tag or a full ref name; empty: the default
	// branch.
	Ref string `json:"ref"`
}

// startBuild builds a ref of the hosted repository as a push of it would.
func (s *Server) startBuild(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	var in StartRequest
	if !readJSON(w, r, &in, "a build request") {
		return
	}
	if repo.CloneURL != "" {
		if err := s.syncMirror(r.Context(), repo, false); err != nil {
			httpError(w, err)
			return
		}
	}
	ref, sha, err := s.resolveRef(repo, in.Ref)
	if err != nil {
		httpError(w, err)
		return
	}
	b, err := s.buildPush(r.Context(), push{repo: repo, ref: ref, sha: sha, sender: userOf(r).Login})
	s.answerBuild(w, r, http.StatusCreated, b, err)
}

// resolveRef finds a branch, tag or full ref (empty: HEAD's branch) in
// the hosted repository.
func (s *Server) resolveRef(repo store.Repo, name string) (plumbing.ReferenceName, plumbing.Hash, error) {
	g, err := git.PlainOpen(s.bareDir(repo.Namespace, repo.Name))
	if err != nil {
		return "", plumbing.ZeroHash, err
	}
	candidates := []plumbing.ReferenceName{plumbing.ReferenceName(name), plumbing.NewBranchReferenceName(name), plumbing.NewTagReferenceName(name)}
	if name == "" {
		head, err := g.Reference(plumbing.HEAD, false)
		if err != nil {
			return "", plumbing.ZeroHash, err
		}
		candidates = []plumbing.ReferenceName{head.Target()}
	}
	for _, c := range candidates {
		if ref, err := g.Reference(c, true); err == nil && (c.IsBranch() || c.IsTag()) {
			return c, ref.Hash(), nil
		}
	}
	if name == "" {
		name = candidates[0].Short() + " (the default branch)"
	}
	return "", plumbing.ZeroHash, errorf(http.StatusNotFound, "%s has no branch or tag %s: push it first", repo.Slug(), name)
}

// cancelBuild stops a build: jobs not started are cancelled, running ones
// hear Job-Status: canceled on their runner's next trace or status call.
func (s *Server) cancelBuild(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	b, err := s.build(r, repo)
	if err == nil {
		err = s.st.CancelBuild(r.Context(), b.ID)
	}
	if err == nil {
		b, err = s.st.BuildByID(r.Context(), b.ID)
	}
	s.answerBuild(w, r, http.StatusOK, b, err)
}

// buildJob is the job a path names by its name or its 1-based position.
func (s *Server) buildJob(r *http.Request, repo store.Repo) (store.Job, error) {
	b, err := s.build(r, repo)
	if err != nil {
		return store.Job{}, err
	}
	jobs, err := s.st.Jobs(r.Context(), b.ID)
	if err != nil {
		return store.Job{}, err
	}
	key := r.PathValue("job")
	n, numErr := strconv.Atoi(key)
	for i, j := range jobs {
		if j.Name == key || numErr == nil && n == i+1 {
			return j, nil
		}
	}
	return store.Job{}, errorf(http.StatusNotFound, "build %d has no job %s", b.Number, key)
}
