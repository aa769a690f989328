// Package vcs reads what a CI system needs to know about a workspace's
// git checkout: the commit, the branch or tag, the author, and which
// files the commit changed. It uses go-git, so no git binary is needed.
//
// A workspace that is not a git checkout (or whose repository cannot be
// read) still gets a usable Info, with placeholder values and one
// warning in Info.Warning; callers print that and go on.
package vcs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ZeroSHA is what GitLab puts in CI_COMMIT_BEFORE_SHA when there is no
// earlier commit, and what a workspace without git gets as its commit.
const ZeroSHA = "0000000000000000000000000000000000000000"

// FallbackBranch is the branch assumed when git cannot tell one.
const FallbackBranch = "main"

// Info is what git says about a workspace. Every field has a value, real
// or placeholder; Warning says when some are placeholders.
type Info struct {
	// Git is false when the workspace is not in a readable git
	// repository with at least one commit.
	Git bool
	// SHA is HEAD's full commit id; ShortSHA its first 8 characters, as
	// GitLab's CI_COMMIT_SHORT_SHA.
	SHA, ShortSHA string
	// BeforeSHA is HEAD's first parent, the best local guess for the
	// commit before the push; ZeroSHA for a root commit.
	BeforeSHA string
	// Branch is the branch checked out, or, when HEAD is detached, the
	// local (else origin's) branch whose tip is HEAD; "" if none is.
	Branch string
	// Tag is a tag pointing at HEAD ("" if none); with several, the
	// greatest in byte order, so the choice is stable.
	Tag string
	// Message is the whole commit message, Title its first line.
	Message, Title string
	// Timestamp is the committer's time.
	Timestamp time.Time
	// AuthorName and AuthorEmail come from the commit's author.
	AuthorName, AuthorEmail string
	// DefaultBranch is a guess: origin/HEAD's target, else main or
	// master if such a branch exists, else Branch, else FallbackBranch.
	DefaultBranch string
	// Changed lists the paths HEAD changed against its first parent
	// (both names of a rename); for a root commit, every file in it.
	// Sorted. ChangedKnown is false when git could not tell (no git).
	Changed      []string
	ChangedKnown bool
	// Warning, when not empty, says why some values are placeholders.
	Warning string
}

// Read reads dir's git facts. dir may be any directory inside the
// checkout: the repository is found by walking up to its .git.
func Read(dir string) Info {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		why := err.Error()
		if errors.Is(err, git.ErrRepositoryNotExists) {
			why = "not a git repository"
		}
		return placeholder(fmt.Sprintf("%s: %s; commit variables get placeholder values (branch %s, commit %s)", dir, why, FallbackBranch, ZeroSHA[:8]))
	}
	info, err := read(repo)
	if err != nil {
		return placeholder(fmt.Sprintf("%s: cannot read the git repository: %v; commit variables get placeholder values (branch %s, commit %s)", dir, err, FallbackBranch, ZeroSHA[:8]))
	}
	return info
}

// placeholder is the Info of a workspace without usable git.
func placeholder(warning string) Info {
	return Info{
		SHA:           ZeroSHA,
		ShortSHA:      ZeroSHA[:8],
		BeforeSHA:     ZeroSHA,
		Branch:        FallbackBranch,
		DefaultBranch: FallbackBranch,
		Warning:       warning,
	}
}

func read(repo *git.Repository) (Info, error) {
	head, err := repo.Head()
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return Info{}, errors.New("no commit yet")
		}
		return Info{}, err
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return Info{}, err
	}
	info := Info{
		Git:         true,
		SHA:         commit.Hash.String(),
		BeforeSHA:   ZeroSHA,
		Message:     commit.Message,
		Title:       title(commit.Message),
		Timestamp:   commit.Committer.When,
		AuthorName:  commit.Author.Name,
		AuthorEmail: commit.Author.Email,
	}
	info.ShortSHA = info.SHA[:8]
	if len(commit.ParentHashes) > 0 {
		info.BeforeSHA = commit.ParentHashes[0].String()
	}
	if head.Name().IsBranch() {
		info.Branch = head.Name().Short()
	} else if info.Branch, err = branchAt(repo, head.Hash()); err != nil {
		return Info{}, err
	}
	if info.Tag, err = tagAt(repo, head.Hash()); err != nil {
		return Info{}, err
	}
	info.DefaultBranch = defaultBranch(repo, info.Branch)
	if info.Changed, err = changed(commit); err != nil {
		return Info{}, err
	}
	info.ChangedKnown = true
	return info, nil
}

// title is a commit message's first line, as GitLab's CI_COMMIT_TITLE.
func title(msg string) string {
	first, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimRight(first, "\r")
}

// branchAt finds, for a detached HEAD (as CI checkouts often are), a
// branch whose tip is the commit: local branches first, then origin's.
func branchAt(repo *git.Repository, h plumbing.Hash) (string, error) {
	refs, err := repo.References()
	if err != nil {
		return "", err
	}
	var local, remote []string
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference || r.Hash() != h {
			return nil
		}
		switch n := r.Name(); {
		case n.IsBranch():
			local = append(local, n.Short())
		case n.IsRemote() && strings.HasPrefix(n.String(), "refs/remotes/origin/") && n.Short() != "origin/HEAD":
			remote = append(remote, strings.TrimPrefix(n.String(), "refs/remotes/origin/"))
		}
		return nil
	})
	slices.Sort(local)
	slices.Sort(remote)
	if len(local) > 0 {
		return local[0], err
	}
	if len(remote) > 0 {
		return remote[0], err
	}
	return "", err
}

// tagAt finds the tags, lightweight or annotated, that point at h.
func tagAt(repo *git.Repository, h plumbing.Hash) (string, error) {
	tags, err := repo.Tags()
	if err != nil {
		return "", err
	}
	var names []string
	err = tags.ForEach(func(r *plumbing.Reference) error {
		target := r.Hash()
		if t, err := repo.TagObject(target); err == nil {
			target = t.Target
		}
		if target == h {
			names = append(names, r.Name().Short())
		}
		return nil
	})
	if len(names) == 0 {
		return "", err
	}
	return slices.Max(names), err
}

// defaultBranch guesses the project's default branch.
func defaultBranch(repo *git.Repository, current string) string {
	if r, err := repo.Reference(plumbing.NewRemoteHEADReferenceName("origin"), false); err == nil && r.Type() == plumbing.SymbolicReference {
		return strings.TrimPrefix(r.Target().String(), "refs/remotes/origin/")
	}
	for _, b := range []string{"main", "master"} {
		if _, err := repo.Reference(plumbing.NewBranchReferenceName(b), false); err == nil {
			return b
		}
	}
	if current != "" {
		return current
	}
	return FallbackBranch
}

// changed lists the paths commit changed against its first parent.
func changed(commit *object.Commit) ([]string, error) {
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	var parentTree *object.Tree
	if commit.NumParents() > 0 {
		parent, err := commit.Parent(0)
		if err != nil {
			return nil, err
		}
		if parentTree, err = parent.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTree(parentTree, tree)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, c := range changes {
		for _, name := range []string{c.From.Name, c.To.Name} {
			if name != "" {
				set[name] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}
