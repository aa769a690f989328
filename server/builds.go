package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/vcs"
)

// maxPipelineFile bounds the pipeline file read from a commit, as
// dialect.Load bounds a local one.
const maxPipelineFile = 4 << 20

// push is one branch or tag a push moved.
type push struct {
	repo   store.Repo
	ref    plumbing.ReferenceName
	sha    plumbing.Hash // the ref's new value (a commit or a tag object)
	before plumbing.Hash // zero for a new ref
	sender string
	event  string // empty: push, or tag for a tag
	parent int64  // the build a restart restarts
}

// buildPush reads the pipeline file at the pushed commit and queues its
// jobs as a new build. A file that does not parse makes a build that
// failed with the file's errors, and nothing is queued.
func (s *Server) buildPush(ctx context.Context, p push) (store.Build, error) {
	g, err := git.PlainOpen(s.bareDir(p.repo.Namespace, p.repo.Name))
	if err != nil {
		return store.Build{}, err
	}
	commit, err := peel(g, p.sha)
	if err != nil {
		return store.Build{}, err
	}
	b := store.Build{
		RepoID: p.repo.ID, Event: "push", Sender: p.sender,
		Ref: p.ref.String(), Commit: commit.Hash.String(), Message: commit.Message, Parent: p.parent,
	}
	if p.ref.IsTag() {
		b.Event = "tag"
	}
	if p.event != "" {
		b.Event = p.event
	}
	if !p.before.IsZero() {
		b.Before = p.before.String()
	}
	var jobs []store.Job
	pl, err := s.parseAt(g, commit, p)
	if err == nil {
		jobs, err = jobsOf(pl)
	}
	if err != nil {
		b.Error = err.Error()
	}
	b, _, err = s.st.CreateBuild(ctx, b, jobs)
	return b, err
}

// peel follows an annotated tag to its commit.
func peel(g *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	if t, err := g.TagObject(h); err == nil {
		return t.Commit()
	}
	return g.CommitObject(h)
}

// parseAt parses the repository's pipeline file as it is in commit, with
// the same dialect code exec uses.
func (s *Server) parseAt(g *git.Repository, commit *object.Commit, p push) (*pipeline.Pipeline, error) {
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	path, data, err := pipelineFile(tree, p.repo.ConfigPath)
	if err != nil {
		return nil, err
	}
	if dialect.IsDrone(path) {
		pl, _, err := drone.Parse(path, data, s.droneContext(p))
		return pl, err
	}
	// rules: exists and include: local look in a checkout: give them one
	// of the commit, never the server's own directory.
	ws, err := os.MkdirTemp("", "slipway-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(ws)
	if err := checkout(tree, ws); err != nil {
		return nil, fmt.Errorf("check out %s: %w", commit.Hash, err)
	}
	opts := gitlab.Options{
		ProjectPath: p.repo.Slug(), Git: gitInfo(g, commit, p),
		PipelineSource: "push", Workspace: ws,
	}
	opts.Branch, opts.Tag = opts.Git.Branch, opts.Git.Tag
	pl, _, err := gitlab.Parse(path, data, opts)
	return pl, err
}

// pipelineFile finds the pipeline file in tree: configPath, or the first
// of .gitlab-ci.yml, .drone.yml (and their .yaml spellings) present.
func pipelineFile(tree *object.Tree, configPath string) (string, []byte, error) {
	names := dialect.Names
	if configPath != "" {
		names = []string{configPath}
	}
	for _, n := range names {
		f, err := tree.File(n)
		if errors.Is(err, object.ErrFileNotFound) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", n, err)
		}
		if f.Size > maxPipelineFile {
			return "", nil, fmt.Errorf("%s: file is %d bytes, more than the %d a pipeline file may have", n, f.Size, maxPipelineFile)
		}
		data, err := f.Contents()
		return n, []byte(data), err
	}
	return "", nil, fmt.Errorf("no pipeline file in the commit (looked for %s)", strings.Join(names, ", "))
}

// checkout writes tree's regular files below dir.
func checkout(tree *object.Tree, dir string) error {
	return tree.Files().ForEach(func(f *object.File) error {
		// A crafted tree could name "../x": nothing may land outside dir.
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable || !filepath.IsLocal(filepath.FromSlash(f.Name)) {
			return nil
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, r)
		return errors.Join(err, out.Close())
	})
}

// gitInfo is what vcs.Read would say of a checkout of the pushed commit.
func gitInfo(g *git.Repository, commit *object.Commit, p push) vcs.Info {
	info := vcs.Info{
		Git: true, SHA: commit.Hash.String(), ShortSHA: commit.Hash.String()[:8],
		BeforeSHA: vcs.ZeroSHA, Message: commit.Message, Title: title(commit.Message),
		Timestamp:  commit.Committer.When,
		AuthorName: commit.Author.Name, AuthorEmail: commit.Author.Email,
		DefaultBranch: vcs.FallbackBranch,
	}
	if !p.before.IsZero() {
		info.BeforeSHA = p.before.String()
		info.Changed, info.ChangedKnown = changedSince(g, p.before, commit)
	}
	if p.ref.IsBranch() {
		info.Branch = p.ref.Short()
	} else {
		info.Tag = p.ref.Short()
	}
	if head, err := g.Reference(plumbing.HEAD, false); err == nil && head.Type() == plumbing.SymbolicReference {
		info.DefaultBranch = head.Target().Short()
	}
	return info
}

// changedSince lists the paths that differ between the commit a ref had
// before the push and the pushed one, as GitLab's rules: changes compares
// them. A new branch has no such commit: changes: is then true, as on
// GitLab, which ChangedKnown false gives.
func changedSince(g *git.Repository, before plumbing.Hash, commit *object.Commit) ([]string, bool) {
	old, err := peel(g, before)
	if err != nil {
		return nil, false
	}
	oldTree, err := old.Tree()
	if err != nil {
		return nil, false
	}
	newTree, err := commit.Tree()
	if err != nil {
		return nil, false
	}
	changes, err := object.DiffTree(oldTree, newTree)
	if err != nil {
		return nil, false
	}
	var paths []string
	for _, c := range changes {
		for _, name := range []string{c.From.Name, c.To.Name} {
			if name != "" && !slices.Contains(paths, name) {
				paths = append(paths, name)
			}
		}
	}
	slices.Sort(paths)
	return paths, true
}

func title(msg string) string {
	first, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimRight(first, "\r")
}

// droneContext is what Drone's when: and trigger: match for a push.
func (s *Server) droneContext(p push) drone.Context {
	c := drone.Context{Event: "push", Ref: p.ref.String(), Repo: p.repo.Slug()}
	if p.ref.IsBranch() {
		c.Branch = p.ref.Short()
	} else {
		c.Event = "tag"
	}
	if u, err := url.Parse(s.opts.ExternalURL); err == nil {
		c.Instance = u.Host
	}
	return c
}

// jobsOf makes a store job of every job of pl. A job waits for the jobs
// of all earlier stages (GitLab stages), or, as a DAG job (GitLab needs:,
// every Drone pipeline), for those it names. A manual job is stored to
// wait until someone plays it; as on GitLab, later stages do not wait for
// one that allows failure (the default for a manual job), but a job whose
// needs: name it does.
func jobsOf(pl *pipeline.Pipeline) ([]store.Job, error) {
	var out []store.Job
	var earlier []string
	for _, st := range pl.Stages {
		var names []string
		for _, j := range st.Jobs {
			needs := earlier
			if j.DAG {
				needs = j.Needs
			}
			doc, err := jobDocument(pl, st.Name, j)
			if err != nil {
				return nil, err
			}
			out = append(out, store.Job{
				Name: j.Name, Stage: st.Name, Needs: slices.Clone(needs), When: storeWhen(j.When),
				AllowFailure: j.AllowFailure, Tags: j.Tags, Document: doc,
			})
			if j.When != pipeline.Manual || !j.AllowFailure {
				names = append(names, j.Name)
			}
		}
		earlier = append(earlier, names...)
	}
	return out, nil
}

// jobDocument is the wire form of one job: a pipeline of one stage with
// that job alone. A manual job is sent only once played, to run: the
// runner must not skip it as exec skips a manual job not named.
func jobDocument(pl *pipeline.Pipeline, stage string, j *pipeline.Job) ([]byte, error) {
	if j.When == pipeline.Manual {
		played := *j
		played.When = pipeline.OnSuccess
		j = &played
	}
	one := &pipeline.Pipeline{File: pl.File, Dialect: pl.Dialect, Stages: []pipeline.Stage{{Name: stage, Jobs: []*pipeline.Job{j}}}}
	doc, err := pipeline.NewDocument(one)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", j.Name, err)
	}
	return doc.Encode()
}

func storeWhen(w pipeline.When) store.When {
	switch w {
	case pipeline.OnFailure:
		return store.OnFailure
	case pipeline.Always:
		return store.Always
	case pipeline.Manual:
		return store.Manual
	}
	return store.OnSuccess
}
