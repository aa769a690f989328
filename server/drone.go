package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// The Drone REST API, as the drone CLI (and github.com/drone/drone-go)
// calls it. The shapes below are the fields those clients read.

// maxBody bounds an API request's JSON.
const maxBody = 1 << 20

func (s *Server) droneRoutes(mux *http.ServeMux) {
	const repo = "/api/repos/{ns}/{name}"
	mux.Handle("GET /api/user", s.authed(s.getUser))
	mux.Handle("GET /api/user/repos", s.authed(s.listRepos))
	mux.Handle("POST "+repo, s.authed(s.enableRepo))
	mux.Handle("DELETE "+repo, s.authed(s.withRepo(s.deleteRepo)))
	mux.Handle("GET "+repo, s.authed(s.withRepo(s.getRepo)))
	mux.Handle("PATCH "+repo, s.authed(s.withRepo(s.patchRepo)))
	mux.Handle("GET "+repo+"/secrets", s.authed(s.withRepo(s.listSecrets)))
	mux.Handle("POST "+repo+"/secrets", s.authed(s.withRepo(s.addSecret)))
	mux.Handle("GET "+repo+"/secrets/{secret}", s.authed(s.withRepo(s.getSecret)))
	mux.Handle("DELETE "+repo+"/secrets/{secret}", s.authed(s.withRepo(deleteNamed("secret", s.st.DeleteSecret))))
	mux.Handle("GET "+repo+"/builds", s.authed(s.withRepo(s.listBuilds)))
	mux.Handle("GET "+repo+"/builds/{number}", s.authed(s.withRepo(s.getBuild)))
	mux.Handle("GET "+repo+"/builds/{number}/logs/{stage}/{step}", s.authed(s.withRepo(s.getLog)))
}

// withRepo finds the repository the path names and checks access to it.
func (s *Server) withRepo(fn func(http.ResponseWriter, *http.Request, store.Repo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		repo, err := s.repoFor(r.Context(), userOf(r), r.PathValue("ns"), r.PathValue("name"))
		if err != nil {
			httpError(w, err)
			return
		}
		fn(w, r, repo)
	}
}

// readJSON decodes a request's JSON body (at most maxBody bytes) into v,
// or answers 400 saying the body is not what's JSON.
func readJSON(w http.ResponseWriter, r *http.Request, v any, what string) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		http.Error(w, "the body is not "+what+"'s JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

type droneUser struct {
	ID      int64  `json:"id"`
	Login   string `json:"login"`
	Admin   bool   `json:"admin"`
	Active  bool   `json:"active"`
	Created int64  `json:"created"`
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	writeJSON(w, http.StatusOK, droneUser{ID: u.ID, Login: u.Login, Admin: u.Admin, Active: true, Created: unix(u.Created)})
}

type droneRepo struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Slug       string `json:"slug"`
	SCM        string `json:"scm"`
	HTTPURL    string `json:"git_http_url"`
	Branch     string `json:"default_branch"`
	Private    bool   `json:"private"`
	Visibility string `json:"visibility"`
	Active     bool   `json:"active"`
	Config     string `json:"config_path"`
	Trusted    bool   `json:"trusted"`
	Protected  bool   `json:"protected"`
	CloneURL   string `json:"clone_url,omitempty"` // the remote of a mirror
	Created    int64  `json:"created"`
}

func (s *Server) repoJSON(r store.Repo) droneRepo {
	return droneRepo{
		ID: r.ID, UserID: r.OwnerID, Namespace: r.Namespace, Name: r.Name, Slug: r.Slug(),
		SCM: "git", HTTPURL: s.opts.ExternalURL + "/" + r.Slug() + ".git", Branch: "main",
		Private: true, Visibility: "private", Active: true, Config: r.ConfigPath,
		Trusted: r.Trusted, Created: unix(r.Created), CloneURL: r.CloneURL,
	}
}

// EnableRequest is the optional body of POST /api/repos/{ns}/{name}
// (Drone's sends none).
type EnableRequest struct {
	// CloneURL makes the repository a mirror of this remote.
	CloneURL string `json:"clone_url,omitempty"`
}

// enableRepo adds a repository hosted by the server (drone repo enable).
// Enabling one that exists answers it, as Drone does.
func (s *Server) enableRepo(w http.ResponseWriter, r *http.Request) {
	ns, name, u := r.PathValue("ns"), r.PathValue("name"), userOf(r)
	if err := checkName(ns, name); err != nil {
		httpError(w, err)
		return
	}
	var in EnableRequest
	if r.ContentLength != 0 && !readJSON(w, r, &in, "a repository") {
		return
	}
	if in.CloneURL != "" {
		s.enableMirror(w, r, ns, name, in.CloneURL)
		return
	}
	repo, err := s.st.CreateRepo(r.Context(), store.Repo{OwnerID: u.ID, Namespace: ns, Name: name, MaxRequeues: -1})
	if errors.Is(err, store.ErrConflict) {
		repo, err = s.repoFor(r.Context(), u, ns, name)
	}
	if err == nil {
		err = s.initBare(r.Context(), ns, name)
	}
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.repoJSON(repo))
}

// listRepos lists the repositories the user owns or was given (drone
// repo ls).
func (s *Server) listRepos(w http.ResponseWriter, r *http.Request) {
	repos, err := s.st.ListRepos(r.Context(), userOf(r).ID)
	if err != nil {
		httpError(w, err)
		return
	}
	out := []droneRepo{}
	for _, repo := range repos {
		out = append(out, s.repoJSON(repo))
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteRepo removes a repository with its builds, logs and git (drone
// repo disable). Only its owner or an administrator may.
func (s *Server) deleteRepo(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if u := userOf(r); !u.Admin && u.ID != repo.OwnerID {
		http.Error(w, "only the owner or an administrator may remove "+repo.Slug(), http.StatusForbidden)
		return
	}
	err := s.st.DeleteRepo(r.Context(), repo.ID)
	if err == nil {
		err = os.RemoveAll(s.bareDir(repo.Namespace, repo.Name))
	}
	if err != nil {
		httpError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getRepo(w http.ResponseWriter, _ *http.Request, repo store.Repo) {
	writeJSON(w, http.StatusOK, s.repoJSON(repo))
}

// patchRepo changes a repository's settings; a null (or absent) field is
// left as it is (drone repo update sends every flag it has, null if unset).
func (s *Server) patchRepo(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	var patch map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&patch); err != nil {
		http.Error(w, "the body is not a JSON object: "+err.Error(), http.StatusBadRequest)
		return
	}
	for key, raw := range patch {
		if bytes.Equal(raw, []byte("null")) {
			continue
		}
		if err := s.patchField(&repo, userOf(r), key, raw); err != nil {
			httpError(w, err)
			return
		}
	}
	if err := s.st.UpdateRepo(r.Context(), repo); err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.repoJSON(repo))
}

func (s *Server) patchField(repo *store.Repo, u store.User, key string, raw json.RawMessage) error {
	bad := func(err error) error {
		return errorf(http.StatusBadRequest, "%s: %v", key, err)
	}
	switch key {
	case "trusted":
		if !u.Admin {
			return errorf(http.StatusForbidden, "only administrators may change trusted")
		}
		if err := json.Unmarshal(raw, &repo.Trusted); err != nil {
			return bad(err)
		}
	case "config_path":
		if err := json.Unmarshal(raw, &repo.ConfigPath); err != nil {
			return bad(err)
		}
	case "timeout":
		if !u.Admin {
			return errorf(http.StatusForbidden, "only administrators may change timeout")
		}
		return errorf(http.StatusBadRequest, "timeout: slipway does not keep a repository timeout yet (set timeout: in the pipeline file)")
	default:
		return errorf(http.StatusBadRequest, "%s: slipway does not support this setting", key)
	}
	return nil
}

type droneSecret struct {
	Name        string `json:"name"`
	Data        string `json:"data,omitempty"`
	PullRequest bool   `json:"pull_request"`
}

func (s *Server) addSecret(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	var in droneSecret
	if !readJSON(w, r, &in, "a secret") {
		return
	}
	if in.Name == "" || in.Data == "" {
		http.Error(w, "a secret needs a name and data", http.StatusBadRequest)
		return
	}
	err := s.st.PutSecret(r.Context(), repo.ID, store.Secret{Name: in.Name, Value: in.Data, PullRequest: in.PullRequest})
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, droneSecret{Name: in.Name, PullRequest: in.PullRequest})
}

// secrets lists a repository's secrets: names and settings, never values.
func (s *Server) secrets(r *http.Request, repo store.Repo) ([]droneSecret, error) {
	list, err := s.st.ListSecrets(r.Context(), repo.ID)
	out := []droneSecret{}
	for _, sec := range list {
		out = append(out, droneSecret{Name: sec.Name, PullRequest: sec.PullRequest})
	}
	return out, err
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	out, err := s.secrets(r, repo)
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	out, err := s.secrets(r, repo)
	if err != nil {
		httpError(w, err)
		return
	}
	for _, sec := range out {
		if sec.Name == r.PathValue("secret") {
			writeJSON(w, http.StatusOK, sec)
			return
		}
	}
	http.Error(w, "secret "+r.PathValue("secret")+" not found", http.StatusNotFound)
}

type droneBuild struct {
	ID       int64         `json:"id"`
	RepoID   int64         `json:"repo_id"`
	Number   int64         `json:"number"`
	Status   string        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Event    string        `json:"event"`
	Trigger  string        `json:"trigger"`
	Sender   string        `json:"sender"`
	Author   string        `json:"author_login"`
	Ref      string        `json:"ref"`
	Target   string        `json:"target"`
	After    string        `json:"after"`
	Before   string        `json:"before,omitempty"`
	Parent   int64         `json:"parent,omitempty"` // the build this one restarts
	Message  string        `json:"message"`
	Started  int64         `json:"started"`
	Finished int64         `json:"finished"`
	Created  int64         `json:"created"`
	Stages   []*droneStage `json:"stages,omitempty"`
}

// A build's stage is one of its jobs; a stage's one step stands for the
// whole job, whose log is kept as one.
type droneStage struct {
	ID        int64       `json:"id"`
	BuildID   int64       `json:"build_id"`
	Number    int         `json:"number"`
	Name      string      `json:"name"`
	Status    string      `json:"status"`
	ExitCode  int         `json:"exit_code"`
	Started   int64       `json:"started"`
	Stopped   int64       `json:"stopped"`
	DependsOn []string    `json:"depends_on,omitempty"`
	Steps     []droneStep `json:"steps"`
}

type droneStep struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Started  int64  `json:"started,omitempty"`
	Stopped  int64  `json:"stopped,omitempty"`
}

// droneStatus spells a job's status as Drone does.
func droneStatus(s store.JobStatus) string {
	switch s {
	case store.JobCreated:
		return "pending"
	case store.JobFailed:
		return "failure"
	case store.JobCanceled:
		return "killed"
	}
	return string(s)
}

func (s *Server) buildJSON(r *http.Request, b store.Build) (droneBuild, error) {
	out := droneBuild{
		ID: b.ID, RepoID: b.RepoID, Number: b.Number, Status: string(b.Status), Error: b.Error,
		Event: b.Event, Trigger: b.Sender, Sender: b.Sender, Author: b.Sender, Ref: b.Ref,
		Target: strings.TrimPrefix(b.Ref, "refs/heads/"), After: b.Commit, Before: b.Before, Parent: b.Parent, Message: b.Message,
		Started: unix(b.Started), Finished: unix(b.Finished), Created: unix(b.Created),
	}
	jobs, err := s.st.Jobs(r.Context(), b.ID)
	for i, j := range jobs {
		st := droneStatus(j.Status)
		out.Stages = append(out.Stages, &droneStage{
			ID: j.ID, BuildID: b.ID, Number: i + 1, Name: j.Name, Status: st, ExitCode: j.ExitCode,
			Started: unix(j.Started), Stopped: unix(j.Finished), DependsOn: j.Needs,
			Steps: []droneStep{{Number: 1, Name: j.Name, Status: st, ExitCode: j.ExitCode, Started: unix(j.Started), Stopped: unix(j.Finished)}},
		})
	}
	return out, err
}

// pageQuery reads page and per_page (default 1 and 25, at most 100).
func pageQuery(r *http.Request) (page, perPage int) {
	page, perPage = 1, 25
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	return page, perPage
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	page, perPage := pageQuery(r)
	builds, err := s.st.ListBuilds(r.Context(), repo.ID, page, perPage)
	if err != nil {
		httpError(w, err)
		return
	}
	out := []droneBuild{}
	for _, b := range builds {
		db, err := s.buildJSON(r, b)
		if err != nil {
			httpError(w, err)
			return
		}
		out = append(out, db)
	}
	writeJSON(w, http.StatusOK, out)
}

// pathNumber reads a positive number from the path.
func pathNumber(r *http.Request, key string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(key), 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "%s %q: not a number from 1 on", key, r.PathValue(key))
	}
	return n, nil
}

func (s *Server) build(r *http.Request, repo store.Repo) (store.Build, error) {
	n, err := pathNumber(r, "number")
	if err != nil {
		return store.Build{}, err
	}
	b, err := s.st.Build(r.Context(), repo.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, "%s has no build %d", repo.Slug(), n)
	}
	return b, err
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	b, err := s.build(r, repo)
	s.answerBuild(w, r, http.StatusOK, b, err)
}

// answerBuild answers b with its jobs, or err if there is one.
func (s *Server) answerBuild(w http.ResponseWriter, r *http.Request, code int, b store.Build, err error) {
	var out droneBuild
	if err == nil {
		out, err = s.buildJSON(r, b)
	}
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, code, out)
}

// stageJob is the job that stage (and its one step) of a build stands for.
func (s *Server) stageJob(r *http.Request, repo store.Repo) (store.Job, error) {
	b, err := s.build(r, repo)
	if err != nil {
		return store.Job{}, err
	}
	stage, err := pathNumber(r, "stage")
	if err != nil {
		return store.Job{}, err
	}
	if step, err := pathNumber(r, "step"); err != nil || step != 1 {
		return store.Job{}, errorf(http.StatusNotFound, "a stage has one step, 1: the whole job's log")
	}
	jobs, err := s.st.Jobs(r.Context(), b.ID)
	if err != nil {
		return store.Job{}, err
	}
	if stage > int64(len(jobs)) {
		return store.Job{}, errorf(http.StatusNotFound, "build %d has %d stages", b.Number, len(jobs))
	}
	return jobs[stage-1], nil
}
