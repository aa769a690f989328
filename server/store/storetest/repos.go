package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

func testUsers(t *testing.T, b Backend) {
	s := b.Store
	admin := must(s.CreateUser(ctx(t), store.User{Login: "admin", Admin: true}, "tok-admin"))(t)
	bob := must(s.CreateUser(ctx(t), store.User{Login: "bob"}, "tok-bob"))(t)
	if admin.ID == 0 || admin.ID == bob.ID || admin.Created.IsZero() {
		t.Fatalf("created users %+v %+v", admin, bob)
	}
	_, err := s.CreateUser(ctx(t), store.User{Login: "bob"}, "tok-other")
	wantErr(t, err, store.ErrConflict, "a second bob")
	if got := must(s.UserByToken(ctx(t), "tok-admin"))(t); got != admin {
		t.Fatalf("UserByToken = %+v, want %+v", got, admin)
	}
	_, err = s.UserByToken(ctx(t), "tok-nobody")
	wantErr(t, err, store.ErrNotFound, "an unknown token")
	if got := must(s.UserByLogin(ctx(t), "bob"))(t); got != bob || got.Admin {
		t.Fatalf("UserByLogin = %+v, want %+v", got, bob)
	}
	_, err = s.UserByLogin(ctx(t), "carol")
	wantErr(t, err, store.ErrNotFound, "an unknown login")
	users := must(s.ListUsers(ctx(t)))(t)
	if len(users) != 2 || users[0] != admin || users[1] != bob {
		t.Fatalf("ListUsers = %+v", users)
	}
	notInClear(t, b, "SELECT token_hash FROM users", "tok-admin", "tok-bob")
}

// notInClear fails if any value of the query's one column contains one of
// the plain texts.
func notInClear(t *testing.T, b Backend, query string, plain ...string) {
	t.Helper()
	rows, err := b.Raw.QueryContext(ctx(t), query)
	noErr(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var v []byte
		noErr(t, rows.Scan(&v))
		n++
		for _, p := range plain {
			if bytes.Contains(v, []byte(p)) {
				t.Fatalf("%s: a row holds %q in clear", query, p)
			}
		}
	}
	noErr(t, rows.Err())
	if n == 0 {
		t.Fatalf("%s: no rows to check", query)
	}
}

func testRepos(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	if f.repo.MaxRequeues != 1 || f.repo.Trusted || f.repo.Slug() != "octo/hello" {
		t.Fatalf("new repository %+v: want MaxRequeues 1 (the default), untrusted", f.repo)
	}
	_, err := s.CreateRepo(ctx(t), store.Repo{OwnerID: f.user.ID, Namespace: "octo", Name: "hello"})
	wantErr(t, err, store.ErrConflict, "a second octo/hello")
	_, err = s.CreateRepo(ctx(t), store.Repo{OwnerID: f.user.ID + 100, Namespace: "x", Name: "y"})
	wantErr(t, err, store.ErrNotFound, "a repository of an unknown user")

	r := f.repo
	r.Trusted, r.ConfigPath, r.CloneURL, r.MaxRequeues = true, "ci/.drone.yml", "file:///srv/git/hello", 3
	noErr(t, s.UpdateRepo(ctx(t), r))
	got := must(s.Repo(ctx(t), "octo", "hello"))(t)
	if got != r {
		t.Fatalf("after UpdateRepo: %+v, want %+v", got, r)
	}
	if got := must(s.RepoByID(ctx(t), r.ID))(t); got != r {
		t.Fatalf("RepoByID = %+v, want %+v", got, r)
	}
	_, err = s.Repo(ctx(t), "octo", "nope")
	wantErr(t, err, store.ErrNotFound, "Repo of an unknown name")
	_, err = s.RepoByID(ctx(t), r.ID+100)
	wantErr(t, err, store.ErrNotFound, "RepoByID of an unknown id")
	missing := r
	missing.ID += 100
	wantErr(t, s.UpdateRepo(ctx(t), missing), store.ErrNotFound, "UpdateRepo of an unknown id")
}

func testRepoAccess(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	bob := must(s.CreateUser(ctx(t), store.User{Login: "bob"}, "tok-bob"))(t)
	mine := must(s.CreateRepo(ctx(t), store.Repo{OwnerID: bob.ID, Namespace: "bob", Name: "tools"}))(t)
	names := func(userID int64) string {
		var out []string
		for _, r := range must(s.ListRepos(ctx(t), userID))(t) {
			out = append(out, r.Slug())
		}
		return fmt.Sprint(out)
	}
	if got := names(0); got != "[bob/tools octo/hello]" {
		t.Fatalf("ListRepos(all) = %s", got)
	}
	if got := names(bob.ID); got != "[bob/tools]" {
		t.Fatalf("ListRepos(bob) = %s", got)
	}
	noErr(t, s.GrantRepo(ctx(t), f.repo.ID, bob.ID))
	noErr(t, s.GrantRepo(ctx(t), f.repo.ID, bob.ID)) // twice is fine
	if got := names(bob.ID); got != "[bob/tools octo/hello]" {
		t.Fatalf("ListRepos(bob) after the grant = %s", got)
	}
	if got := names(f.user.ID); got != "[octo/hello]" {
		t.Fatalf("ListRepos(octocat) = %s", got)
	}
	wantErr(t, s.GrantRepo(ctx(t), mine.ID+100, bob.ID), store.ErrNotFound, "a grant of an unknown repository")
}

func testDeleteRepo(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "PW", Value: "x"}))
	noErr(t, s.PutVariable(ctx(t), f.repo.ID, store.Variable{Name: "V", Value: "y"}))
	tagged := job("a")
	tagged.Tags = []string{"docker"}
	bld, jobs := newBuild(t, s, f.repo.ID, tagged)
	must(s.AppendLog(ctx(t), jobs[0].ID, 0, []byte("log")))(t)
	noErr(t, s.DeleteRepo(ctx(t), f.repo.ID))
	_, err := s.RepoByID(ctx(t), f.repo.ID)
	wantErr(t, err, store.ErrNotFound, "a deleted repository")
	_, err = s.BuildByID(ctx(t), bld.ID)
	wantErr(t, err, store.ErrNotFound, "a deleted repository's build")
	_, err = s.Job(ctx(t), jobs[0].ID)
	wantErr(t, err, store.ErrNotFound, "a deleted repository's job")
	for _, table := range []string{"secrets", "variables", "log_chunks", "job_tags"} {
		var n int
		noErr(t, b.Raw.QueryRowContext(ctx(t), "SELECT COUNT(*) FROM "+table).Scan(&n))
		if n != 0 {
			t.Fatalf("%d rows left in %s", n, table)
		}
	}
	wantErr(t, s.DeleteRepo(ctx(t), f.repo.ID), store.ErrNotFound, "deleting it again")
}

func testSecrets(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "docker_password", Value: "pw1", PullRequest: true}))
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "api_key", Value: "k-1"}))
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "api_key", Value: "k-2"})) // replaces
	list := must(s.ListSecrets(ctx(t), f.repo.ID))(t)
	want := []store.Secret{{Name: "api_key"}, {Name: "docker_password", PullRequest: true}}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Fatalf("ListSecrets = %+v, want names and flags only: %+v", list, want)
	}
	vals := must(s.RevealSecrets(ctx(t), f.repo.ID))(t)
	want = []store.Secret{{Name: "api_key", Value: "k-2"}, {Name: "docker_password", Value: "pw1", PullRequest: true}}
	if fmt.Sprint(vals) != fmt.Sprint(want) {
		t.Fatalf("RevealSecrets = %+v, want %+v", vals, want)
	}
	noErr(t, s.DeleteSecret(ctx(t), f.repo.ID, "api_key"))
	wantErr(t, s.DeleteSecret(ctx(t), f.repo.ID, "api_key"), store.ErrNotFound, "deleting it again")
	if got := must(s.ListSecrets(ctx(t), f.repo.ID))(t); len(got) != 1 || got[0].Name != "docker_password" {
		t.Fatalf("after the delete: %+v", got)
	}
	if s.PutSecret(ctx(t), f.repo.ID, store.Secret{Value: "v"}) == nil {
		t.Fatal("a secret without a name was accepted")
	}
	wantErr(t, s.PutSecret(ctx(t), f.repo.ID+100, store.Secret{Name: "x", Value: "v"}), store.ErrNotFound,
		"a secret of an unknown repository")
}

// testSecretsAtRest reads the raw table: no value in clear, and a sealed
// value copied to another secret's row does not open.
func testSecretsAtRest(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	const value = "s3cr3t-value-that-must-not-leak"
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "A", Value: value}))
	noErr(t, s.PutSecret(ctx(t), f.repo.ID, store.Secret{Name: "B", Value: "other"}))
	notInClear(t, b, "SELECT sealed FROM secrets", value, "other")
	notInClear(t, b, "SELECT name FROM secrets", value)
	_, err := b.Raw.ExecContext(ctx(t), "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE name = 'A') WHERE name = 'B'")
	noErr(t, err)
	if _, err := s.RevealSecrets(ctx(t), f.repo.ID); err == nil {
		t.Fatal("a sealed value moved to another secret opened")
	}
}

func testVariables(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	noErr(t, s.PutVariable(ctx(t), f.repo.ID, store.Variable{Name: "DOCKER_AUTH_CONFIG", Value: `{"auths":{}}`, Masked: true}))
	noErr(t, s.PutVariable(ctx(t), f.repo.ID, store.Variable{Name: "GOFLAGS", Value: "-mod=mod"}))
	noErr(t, s.PutVariable(ctx(t), f.repo.ID, store.Variable{Name: "GOFLAGS", Value: "-v"}))
	got := must(s.ListVariables(ctx(t), f.repo.ID))(t)
	want := []store.Variable{{Name: "DOCKER_AUTH_CONFIG", Value: `{"auths":{}}`, Masked: true}, {Name: "GOFLAGS", Value: "-v"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListVariables = %+v, want %+v", got, want)
	}
	noErr(t, s.DeleteVariable(ctx(t), f.repo.ID, "GOFLAGS"))
	wantErr(t, s.DeleteVariable(ctx(t), f.repo.ID, "GOFLAGS"), store.ErrNotFound, "deleting it again")
	if got := must(s.ListVariables(ctx(t), f.repo.ID))(t); len(got) != 1 {
		t.Fatalf("after the delete: %+v", got)
	}
	if s.PutVariable(ctx(t), f.repo.ID, store.Variable{Value: "v"}) == nil {
		t.Fatal("a variable without a name was accepted")
	}
}

func testRunners(t *testing.T, b Backend) {
	s := b.Store
	r1 := must(s.CreateRunner(ctx(t), store.Runner{Description: "docker-1", Tags: []string{"docker", "linux"}}, "glrt-one"))(t)
	r2 := must(s.CreateRunner(ctx(t), store.Runner{Description: "any", RunUntagged: true}, "glrt-two"))(t)
	_, err := s.CreateRunner(ctx(t), store.Runner{Description: "dup"}, "glrt-one")
	wantErr(t, err, store.ErrConflict, "a second runner with the same token")
	got := must(s.RunnerByToken(ctx(t), "glrt-one"))(t)
	if fmt.Sprint(got) != fmt.Sprint(r1) || !got.Contacted.IsZero() {
		t.Fatalf("RunnerByToken = %+v, want %+v", got, r1)
	}
	_, err = s.RunnerByToken(ctx(t), "glrt-nope")
	wantErr(t, err, store.ErrNotFound, "an unknown runner token")
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	noErr(t, s.TouchRunner(ctx(t), r2.ID, at))
	list := must(s.ListRunners(ctx(t)))(t)
	if len(list) != 2 || list[1].ID != r2.ID || !list[1].Contacted.Equal(at) || !list[1].RunUntagged {
		t.Fatalf("ListRunners = %+v", list)
	}
	notInClear(t, b, "SELECT token_hash FROM runners", "glrt-one", "glrt-two")
	noErr(t, s.DeleteRunner(ctx(t), r1.ID))
	wantErr(t, s.DeleteRunner(ctx(t), r1.ID), store.ErrNotFound, "deleting it again")
	wantErr(t, s.TouchRunner(ctx(t), r1.ID, at), store.ErrNotFound, "touching a deleted runner")
	_, err = s.RunnerByToken(ctx(t), "glrt-one")
	wantErr(t, err, store.ErrNotFound, "a deleted runner's token")
}
