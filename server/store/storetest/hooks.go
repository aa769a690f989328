package storetest

import (
	"fmt"
	"testing"

	"github.com/slipway-ci/slipway/server/store"
)

func testHookSecret(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	other := must(s.CreateRepo(ctx(t), store.Repo{OwnerID: f.user.ID, Namespace: "octo", Name: "other"}))(t)
	_, err := s.HookSecret(ctx(t), f.repo.ID)
	wantErr(t, err, store.ErrNotFound, "a repository without a webhook secret")
	const secret = "hook-secret-that-must-not-leak"
	noErr(t, s.SetHookSecret(ctx(t), f.repo.ID, "first"))
	noErr(t, s.SetHookSecret(ctx(t), f.repo.ID, secret))
	noErr(t, s.SetHookSecret(ctx(t), other.ID, "other-secret"))
	if got := must(s.HookSecret(ctx(t), f.repo.ID))(t); got != secret {
		t.Fatalf("HookSecret = %q, want the one set last", got)
	}
	notInClear(t, b, "SELECT sealed FROM repo_hooks", secret, "other-secret")
	if s.SetHookSecret(ctx(t), f.repo.ID, "") == nil {
		t.Fatal("an empty webhook secret was accepted")
	}
	// A sealed secret copied to another repository's row does not open.
	_, err = b.Raw.ExecContext(ctx(t), fmt.Sprintf(
		"UPDATE repo_hooks SET sealed = (SELECT sealed FROM repo_hooks WHERE repo_id = %d) WHERE repo_id = %d", f.repo.ID, other.ID))
	noErr(t, err)
	if _, err := s.HookSecret(ctx(t), other.ID); err == nil {
		t.Fatal("a webhook secret moved to another repository opened")
	}
	noErr(t, s.DeleteHookSecret(ctx(t), f.repo.ID))
	wantErr(t, s.DeleteHookSecret(ctx(t), f.repo.ID), store.ErrNotFound, "deleting it again")
	_, err = s.HookSecret(ctx(t), f.repo.ID)
	wantErr(t, err, store.ErrNotFound, "after the delete")
	noErr(t, s.DeleteRepo(ctx(t), other.ID))
	if _, err := s.HookSecret(ctx(t), other.ID); err == nil {
		t.Fatal("a deleted repository's webhook secret is still there")
	}
}

// testBuildParent: a restarted build keeps the number it restarts and the
// push's before value.
func testBuildParent(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	first, _ := newBuild(t, s, f.repo.ID, job("a"))
	before := "89abcdef0123456789abcdef0123456789abcdef"
	again, _, err := s.CreateBuild(ctx(t), store.Build{RepoID: f.repo.ID, Event: "push", Ref: first.Ref,
		Commit: first.Commit, Before: before, Parent: first.Number, Sender: "admin"}, []store.Job{job("a")})
	noErr(t, err)
	got := must(s.Build(ctx(t), f.repo.ID, again.Number))(t)
	if got.Parent != first.Number || got.Before != before || got != again {
		t.Fatalf("restarted build %+v, want parent %d and before %s (CreateBuild said %+v)", got, first.Number, before, again)
	}
	if first.Parent != 0 || first.Before != "" {
		t.Fatalf("a first build has parent %d, before %q", first.Parent, first.Before)
	}
}
