package vcs

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// fixture is a real repository in a temporary directory.
type fixture struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	when time.Time
}

func newRepo(t *testing.T, branch string) *fixture {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, repo: repo, when: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
}

// commit writes files (path → content; "" removes the file) and commits.
func (f *fixture) commit(msg string, files map[string]string) plumbing.Hash {
	f.t.Helper()
	wt, err := f.repo.Worktree()
	if err != nil {
		f.t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(f.dir, name)
		if content == "" {
			if _, err := wt.Remove(name); err != nil {
				f.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			f.t.Fatal(err)
		}
	}
	f.when = f.when.Add(time.Minute)
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:            &object.Signature{Name: "Ada Lovelace", Email: "ada@example.com", When: f.when},
		Committer:         &object.Signature{Name: "CI Bot", Email: "bot@example.com", When: f.when},
		AllowEmptyCommits: true,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) setRef(name plumbing.ReferenceName, h plumbing.Hash) {
	f.t.Helper()
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(name, h)); err != nil {
		f.t.Fatal(err)
	}
}

func TestReadBranchCommit(t *testing.T) {
	f := newRepo(t, "develop")
	first := f.commit("initial\n", map[string]string{"README": "a", "src/a.go": "package a"})
	head := f.commit("Fix the parser\n\nLonger explanation.\n", map[string]string{"src/a.go": "package a // x", "docs/b.md": "b", "README": ""})

	info := Read(filepath.Join(f.dir, "src")) // a subdirectory finds the repository
	if info.Warning != "" || !info.Git {
		t.Fatalf("unexpected warning %q (git %v)", info.Warning, info.Git)
	}
	want := Info{
		Git: true, SHA: head.String(), ShortSHA: head.String()[:8], BeforeSHA: first.String(),
		Branch: "develop", Message: "Fix the parser\n\nLonger explanation.\n", Title: "Fix the parser",
		AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com", DefaultBranch: "develop",
		Changed: []string{"README", "docs/b.md", "src/a.go"}, ChangedKnown: true,
	}
	if !info.Timestamp.Equal(f.when) {
		t.Errorf("timestamp %v, want %v", info.Timestamp, f.when)
	}
	info.Timestamp = time.Time{}
	if !equal(info, want) {
		t.Errorf("got  %+v\nwant %+v", info, want)
	}
}

func TestReadRootCommitChangesEveryFile(t *testing.T) {
	f := newRepo(t, "main")
	f.commit("root", map[string]string{"a": "1", "dir/b": "2"})
	info := Read(f.dir)
	if info.BeforeSHA != ZeroSHA {
		t.Errorf("before sha of a root commit = %s, want zeros", info.BeforeSHA)
	}
	if !slices.Equal(info.Changed, []string{"a", "dir/b"}) || !info.ChangedKnown {
		t.Errorf("changed = %v (known %v)", info.Changed, info.ChangedKnown)
	}
	if info.Title != "root" {
		t.Errorf("title = %q", info.Title)
	}
}

func TestReadDetachedHeadFindsBranchAndTag(t *testing.T) {
	f := newRepo(t, "main")
	f.commit("one", map[string]string{"a": "1"})
	head := f.commit("two", map[string]string{"a": "2"})
	f.setRef(plumbing.NewBranchReferenceName("release"), head)
	f.setRef(plumbing.NewTagReferenceName("v1.0.0"), head)
	if _, err := f.repo.CreateTag("v1.0.1", head, &git.CreateTagOptions{
		Message: "annotated", Tagger: &object.Signature{Name: "x", Email: "x@x", When: f.when},
	}); err != nil {
		t.Fatal(err)
	}
	// Detach HEAD and remove main, so only release points at the commit.
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, head)); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.Storer.RemoveReference(plumbing.NewBranchReferenceName("main")); err != nil {
		t.Fatal(err)
	}
	info := Read(f.dir)
	if info.Branch != "release" {
		t.Errorf("branch = %q, want release", info.Branch)
	}
	if info.Tag != "v1.0.1" {
		t.Errorf("tag = %q, want v1.0.1 (annotated tags count; the greatest wins)", info.Tag)
	}
	if info.DefaultBranch != "release" {
		t.Errorf("default branch = %q, want the current branch when there is no main, master or origin/HEAD", info.DefaultBranch)
	}
}

func TestReadDetachedHeadUsesOriginBranch(t *testing.T) {
	f := newRepo(t, "main")
	head := f.commit("one", map[string]string{"a": "1"})
	f.setRef(plumbing.NewRemoteReferenceName("origin", "feature/x"), head)
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, head)); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.Storer.RemoveReference(plumbing.NewBranchReferenceName("main")); err != nil {
		t.Fatal(err)
	}
	if info := Read(f.dir); info.Branch != "feature/x" || info.Tag != "" {
		t.Errorf("branch %q tag %q, want feature/x and no tag", info.Branch, info.Tag)
	}
}

func TestDefaultBranchGuess(t *testing.T) {
	f := newRepo(t, "feature")
	head := f.commit("one", map[string]string{"a": "1"})
	f.setRef(plumbing.NewBranchReferenceName("master"), head)
	if got := Read(f.dir).DefaultBranch; got != "master" {
		t.Errorf("with a master branch: default %q, want master", got)
	}
	if _, err := f.repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"https://example.com/x.git"}}); err != nil {
		t.Fatal(err)
	}
	f.setRef(plumbing.NewRemoteReferenceName("origin", "trunk"), head)
	if err := f.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.NewRemoteHEADReferenceName("origin"), plumbing.NewRemoteReferenceName("origin", "trunk"))); err != nil {
		t.Fatal(err)
	}
	if got := Read(f.dir).DefaultBranch; got != "trunk" {
		t.Errorf("with origin/HEAD → origin/trunk: default %q, want trunk", got)
	}
}

func TestReadWithoutGit(t *testing.T) {
	dir := t.TempDir()
	info := Read(dir)
	if info.Git || info.ChangedKnown {
		t.Errorf("git %v, changed known %v: want both false", info.Git, info.ChangedKnown)
	}
	if !strings.Contains(info.Warning, "not a git repository") || !strings.Contains(info.Warning, dir) {
		t.Errorf("warning %q should name the directory and say it is not a git repository", info.Warning)
	}
	if info.SHA != ZeroSHA || info.ShortSHA != "00000000" || info.Branch != "main" || info.DefaultBranch != "main" {
		t.Errorf("placeholders: %+v", info)
	}
}

func TestReadRepositoryWithoutCommits(t *testing.T) {
	f := newRepo(t, "main")
	info := Read(f.dir)
	if info.Git || !strings.Contains(info.Warning, "no commit yet") {
		t.Errorf("git %v warning %q: want a placeholder and a warning saying there is no commit", info.Git, info.Warning)
	}
}

func TestTitle(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"one":               "one",
		"one\ntwo":          "one",
		"\n\nlead\r\nnext":  "lead",
		"subject\n\nbody\n": "subject",
	} {
		if got := title(in); got != want {
			t.Errorf("title(%q) = %q, want %q", in, got, want)
		}
	}
}

func equal(a, b Info) bool {
	return reflect.DeepEqual(a, b)
}
