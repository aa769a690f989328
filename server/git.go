package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipway-ci/slipway/server/store"
)

// validName is what a namespace or repository name may be: it becomes a
// directory under the data directory, so no slashes, no leading dot.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

func checkName(ns, name string) error {
	if !validName.MatchString(ns) || !validName.MatchString(name) || strings.HasSuffix(name, ".git") {
		return errorf(http.StatusBadRequest, "%q/%q: a namespace and a name are letters, digits, '_', '-' and '.', not starting with '.' (and a name does not end in .git)", ns, name)
	}
	return nil
}

// bareDir is where a hosted repository's git lives.
func (s *Server) bareDir(ns, name string) string {
	return filepath.Join(s.repos, ns, name+".git")
}

// initBare creates the bare repository git pushes go to.
func (s *Server) initBare(ctx context.Context, ns, name string) error {
	dir := s.bareDir(ns, name)
	if err := s.runGit(ctx, "init", "--quiet", "--bare", "--initial-branch=main", dir); err != nil {
		return err
	}
	// Check what a push sends, so that no malformed object (a tree entry
	// named "..", say) gets in to be read by the builds.
	return s.runGit(ctx, "--git-dir", dir, "config", "receive.fsckObjects", "true")
}

func (s *Server) runGit(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, s.git, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// gitPath splits /<ns>/<name>.git/<rest>.
func gitPath(p string) (ns, name, rest string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 {
		return "", "", "", false
	}
	name, ok = strings.CutSuffix(parts[1], ".git")
	if len(parts) == 3 {
		rest = parts[2]
	}
	return parts[0], name, rest, ok && checkName(parts[0], name) == nil
}

// isPush tells a receive-pack (push) request from a fetch.
func isPush(r *http.Request, rest string) bool {
	return rest == "git-receive-pack" || rest == "info/refs" && r.URL.Query().Get("service") == "git-receive-pack"
}

// serveGit is git's smart HTTP protocol for the hosted repositories.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	ns, name, rest, ok := gitPath(r.URL.Path)
	if !ok {
		http.Error(w, "not found: repositories are at /<namespace>/<name>.git", http.StatusNotFound)
		return
	}
	push := isPush(r, rest)
	repo, remoteUser, err := s.gitAuth(r, ns, name, push)
	if err == nil && push && repo.CloneURL != "" {
		err = mirrorPushRefused(repo)
	}
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="slipway"`)
		}
		httpError(w, err)
		return
	}
	h := &cgi.Handler{
		Path: s.git,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.repos,
			"GIT_HTTP_EXPORT_ALL=1",
			// http-backend enables receive-pack only for an authenticated
			// REMOTE_USER; gitAuth has checked the token for that.
			"REMOTE_USER=" + remoteUser,
		},
		Stderr: s.opts.Log,
	}
	if v := r.Header.Get("Git-Protocol"); v != "" {
		// Lets the client speak protocol v2, as git's docs set up for
		// http-backend behind a web server.
		h.Env = append(h.Env, "GIT_PROTOCOL="+v)
	}
	if !push || rest != "git-receive-pack" {
		h.ServeHTTP(w, r)
		return
	}
	s.receivePack(w, r, h, repo, remoteUser)
}

// gitAuth checks the basic-auth credentials of a git request: an API
// token of a user who may access the repository, or, to fetch only,
// gitlab-ci-token with the token of a running job of this repository.
func (s *Server) gitAuth(r *http.Request, ns, name string, push bool) (store.Repo, string, error) {
	login, pass, ok := r.BasicAuth()
	if !ok || pass == "" {
		return store.Repo{}, "", errorf(http.StatusUnauthorized, "git needs credentials: an API token as the password")
	}
	if login == "gitlab-ci-token" {
		return s.jobGitAuth(r.Context(), ns, name, pass, push)
	}
	u, err := s.userByToken(r.Context(), pass)
	if err != nil {
		return store.Repo{}, "", err
	}
	repo, err := s.repoFor(r.Context(), u, ns, name)
	return repo, u.Login, err
}

func (s *Server) jobGitAuth(ctx context.Context, ns, name, token string, push bool) (store.Repo, string, error) {
	job, err := s.st.JobByToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repo{}, "", errorf(http.StatusUnauthorized, "unknown job token, or its job is no longer running")
	}
	if err != nil {
		return store.Repo{}, "", err
	}
	if push {
		return store.Repo{}, "", errorf(http.StatusForbidden, "a job token may fetch, not push")
	}
	b, err := s.st.BuildByID(ctx, job.BuildID)
	if err != nil {
		return store.Repo{}, "", err
	}
	repo, err := s.st.Repo(ctx, ns, name)
	if err == nil && repo.ID != b.RepoID {
		err = errorf(http.StatusForbidden, "this job token is for another repository")
	}
	return repo, "gitlab-ci-token", err
}

// receivePack runs a push and then starts a build for every branch or tag
// it moved, found by comparing the refs before and after.
func (s *Server) receivePack(w http.ResponseWriter, r *http.Request, h http.Handler, repo store.Repo, sender string) {
	mu := s.repoLock(repo.ID)
	mu.Lock()
	defer mu.Unlock()
	dir := s.bareDir(repo.Namespace, repo.Name)
	before, err := refs(dir)
	if err != nil {
		httpError(w, err)
		return
	}
	h.ServeHTTP(w, r)
	after, err := refs(dir)
	if err != nil {
		fmt.Fprintf(s.opts.Log, "slipway server: %s: read refs after a push: %v\n", repo.Slug(), err)
		return
	}
	// In name order, so that the builds of one push are numbered the same
	// way every time.
	for _, name := range slices.Sorted(maps.Keys(after)) {
		h := after[name]
		if before[name] == h || !(name.IsBranch() || name.IsTag()) {
			continue
		}
		p := push{repo: repo, ref: name, sha: h, before: before[name], sender: sender}
		b, err := s.buildPush(r.Context(), p)
		if err != nil {
			fmt.Fprintf(s.opts.Log, "slipway server: %s: build %s: %v\n", repo.Slug(), name, err)
			continue
		}
		fmt.Fprintf(s.opts.Log, "slipway server: %s: build %d of %s %.8s by %s: %s\n", repo.Slug(), b.Number, name.Short(), b.Commit, sender, b.Status)
	}
}

// refs reads every ref of the repository at dir.
func refs(dir string) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("repository git: %w", err)
	}
	g, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	iter, err := g.References()
	if err != nil {
		return nil, err
	}
	out := map[plumbing.ReferenceName]plumbing.Hash{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			out[ref.Name()] = ref.Hash()
		}
		return nil
	})
	return out, err
}
