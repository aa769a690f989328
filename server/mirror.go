package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/slipway-ci/slipway/server/store"
)

// A mirrored repository is a bare repository whose branches and tags are
// fetched from its clone URL (on a webhook, before a build started by
// hand) instead of pushed to the server. Runners still clone it from the
// server, so they need no access to the remote.

// mirrorRefSpecs make the mirror's branches and tags the remote's, moved
// by force: the remote is the truth, force-pushes included.
var mirrorRefSpecs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// checkCloneURL admits an http(s) URL without credentials, and, for
// administrators only, an absolute path or a file:// URL: a path on the
// server's disk could name another repository's git or the server's own
// files, which a build would then read.
func checkCloneURL(raw string, u store.User) error {
	local := filepath.IsAbs(raw) || strings.HasPrefix(raw, "file://")
	if local && !u.Admin {
		return errorf(http.StatusForbidden, "clone URL %s: only administrators may mirror a path on the server (use an http(s) URL)", raw)
	}
	if local {
		return nil
	}
	p, err := url.Parse(raw)
	switch {
	case err != nil:
		return errorf(http.StatusBadRequest, "clone URL: %v", err)
	case p.Scheme != "http" && p.Scheme != "https" || p.Host == "":
		return errorf(http.StatusBadRequest, "clone URL %q: want an http(s) URL, an absolute path or a file:// URL", raw)
	case p.User != nil:
		return errorf(http.StatusBadRequest, "clone URL %s: credentials in it would be shown to everyone who may read the repository; slipway mirrors remotes that need none", p.Redacted())
	}
	return nil
}

// enableMirror adds a repository that mirrors cloneURL and fetches it
// once, so that a wrong URL is said now rather than at the first webhook.
// Enabling one that exists with the same URL answers it, as Drone does.
func (s *Server) enableMirror(w http.ResponseWriter, r *http.Request, ns, name, cloneURL string) {
	u := userOf(r)
	if err := checkCloneURL(cloneURL, u); err != nil {
		httpError(w, err)
		return
	}
	repo, err := s.st.CreateRepo(r.Context(), store.Repo{OwnerID: u.ID, Namespace: ns, Name: name, CloneURL: cloneURL, MaxRequeues: -1})
	if errors.Is(err, store.ErrConflict) {
		repo, err = s.repoFor(r.Context(), u, ns, name)
		if err == nil && repo.CloneURL != cloneURL {
			err = errorf(http.StatusConflict, "%s exists and mirrors %q, not %q", repo.Slug(), repo.CloneURL, cloneURL)
		}
		if err != nil {
			httpError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.repoJSON(repo))
		return
	}
	if err == nil {
		err = s.initBare(r.Context(), ns, name)
	}
	if err == nil {
		err = s.syncMirror(r.Context(), repo, true)
	}
	if err != nil {
		// Nothing half-made stays behind: the same add can be tried again.
		_ = s.st.DeleteRepo(context.WithoutCancel(r.Context()), repo.ID)
		_ = os.RemoveAll(s.bareDir(ns, name))
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.repoJSON(repo))
}

// repoLock is the lock that serialises what writes a repository's git
// (a receive-pack, a mirror's fetch).
func (s *Server) repoLock(repoID int64) *sync.Mutex {
	mu, _ := s.pushMu.LoadOrStore(repoID, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// syncMirror fetches the mirror's remote; setHead also points HEAD at
// the remote's default branch (on creation: it rarely changes).
func (s *Server) syncMirror(ctx context.Context, repo store.Repo, setHead bool) error {
	mu := s.repoLock(repo.ID)
	mu.Lock()
	defer mu.Unlock()
	return s.fetchMirror(ctx, repo, setHead)
}

// fetchTimeout bounds a fetch, which holds the repository's lock: a
// remote that hangs must not hold every later webhook up for long.
const fetchTimeout = 2 * time.Minute

// fetchMirror is syncMirror with the repository's lock held.
func (s *Server) fetchMirror(ctx context.Context, repo store.Repo, setHead bool) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	g, err := git.PlainOpen(s.bareDir(repo.Namespace, repo.Name))
	if err != nil {
		return err
	}
	remote := git.NewRemote(g.Storer, &config.RemoteConfig{Name: "mirror", URLs: []string{repo.CloneURL}, Fetch: mirrorRefSpecs})
	err = remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: mirrorRefSpecs, Force: true, Prune: true, Tags: git.NoTags})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil // a new repository, not pushed to yet: its first push's webhook fetches
	}
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fetchError(repo, err)
	}
	if !setHead {
		return nil
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return fetchError(repo, err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference {
			return g.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, ref.Target()))
		}
	}
	return nil
}

// fetchError says which remote failed. A remote that answers that there
// is no such repository, or that it needs credentials (which slipway does
// not send), is a wrong URL (422); one that fails otherwise, a bad
// gateway.
func fetchError(repo store.Repo, err error) error {
	code := http.StatusBadGateway
	for _, e := range []error{git.ErrRepositoryNotExists, transport.ErrRepositoryNotFound, transport.ErrAuthenticationRequired,
		transport.ErrAuthorizationFailed} {
		if errors.Is(err, e) {
			code = http.StatusUnprocessableEntity
		}
	}
	return errorf(code, "fetch %s for %s: %v", repo.CloneURL, repo.Slug(), err)
}

// has reports whether the repository's git has object h and ref: the
// runners fetch the ref from the server, so the commit alone is not
// enough (a new branch at a commit the mirror already has).
func (s *Server) has(repo store.Repo, h plumbing.Hash, ref plumbing.ReferenceName) bool {
	g, err := git.PlainOpen(s.bareDir(repo.Namespace, repo.Name))
	if err != nil || g.Storer.HasEncodedObject(h) != nil {
		return false
	}
	_, err = g.Storer.Reference(ref)
	return err == nil
}

// fetchFor makes sure the mirror has commit h and ref, fetching only
// when it does not yet: of many webhooks at once, the first fetch brings
// what the others name.
func (s *Server) fetchFor(ctx context.Context, repo store.Repo, h plumbing.Hash, ref plumbing.ReferenceName) error {
	mu := s.repoLock(repo.ID)
	mu.Lock()
	defer mu.Unlock()
	if s.has(repo, h, ref) {
		return nil
	}
	if err := s.fetchMirror(ctx, repo, false); err != nil {
		return err
	}
	if !s.has(repo, h, ref) {
		return errorf(http.StatusUnprocessableEntity, "%s has no %s with commit %s after a fetch (deleted since?)", repo.CloneURL, ref, h)
	}
	return nil
}

func mirrorPushRefused(repo store.Repo) error {
	return errorf(http.StatusForbidden, "%s mirrors %s: push there, and its webhook builds here", repo.Slug(), repo.CloneURL)
}
