package server

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/store"
)

const gitlabFile = `stages: [build, test, deploy]
compile:
  stage: build
  image: busybox:1.35
  script: [echo build]
unit:
  stage: test
  image: busybox:1.35
  script: [echo unit]
lint:
  stage: test
  image: busybox:1.35
  needs: []
  script: [echo lint]
ship:
  stage: deploy
  image: busybox:1.35
  tags: [prod]
  needs: [unit]
  when: always
  script: [echo ship]
manual-deploy:
  stage: deploy
  image: busybox:1.35
  when: manual
  script: [echo by hand]
`

// clone is a working copy whose origin is the hosted repository, with
// token as the basic-auth password.
func (ts *testServer) clone(t *testing.T, slug, token string) (dir, remote string) {
	t.Helper()
	dir = t.TempDir()
	remote = strings.Replace(ts.url, "http://", "http://slipway:"+token+"@", 1) + "/" + slug + ".git"
	mustGit(t, dir, "init", "--quiet", "--initial-branch=main")
	mustGit(t, dir, "remote", "add", "origin", remote)
	return dir, remote
}

func commitFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "add", name)
	mustGit(t, dir, "commit", "--quiet", "-m", "change "+name)
}

func (ts *testServer) enable(t *testing.T, slug string) store.Repo {
	t.Helper()
	if code, body := ts.call(t, "POST", "/api/repos/"+slug, ts.admin, ""); code != 200 {
		t.Fatalf("enable %s: %d %s", slug, code, body)
	}
	ns, name, _ := strings.Cut(slug, "/")
	repo, err := ts.st.Repo(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// pushFile makes a repository, pushes a commit of one file to its main
// branch and returns the builds.
func (ts *testServer) pushFile(t *testing.T, slug, name, content string) (store.Repo, []store.Build) {
	t.Helper()
	repo := ts.enable(t, slug)
	dir, _ := ts.clone(t, slug, ts.admin)
	commitFile(t, dir, name, content)
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	return repo, ts.builds(t, repo)
}

func (ts *testServer) builds(t *testing.T, repo store.Repo) []store.Build {
	t.Helper()
	builds, err := ts.st.ListBuilds(context.Background(), repo.ID, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	return builds
}

type jobShape struct {
	stage string
	needs []string
	tags  []string
	when  store.When
}

// TestPushStartsBuild is the whole path: a repository made through the
// Drone API, a commit pushed with the real git over HTTP, a build whose
// jobs are the file's, each with a document a runner can read.
func TestPushStartsBuild(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/hello")
	dir, _ := ts.clone(t, "octo/hello", ts.admin)
	commitFile(t, dir, ".gitlab-ci.yml", gitlabFile)
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	sha := strings.TrimSpace(mustGit(t, dir, "rev-parse", "HEAD"))

	builds := ts.builds(t, repo)
	if len(builds) != 1 {
		t.Fatalf("builds after a push: %+v", builds)
	}
	b := builds[0]
	if b.Commit != sha || b.Ref != "refs/heads/main" || b.Event != "push" || b.Sender != "admin" || b.Status != store.BuildPending || b.Error != "" {
		t.Errorf("build %+v", b)
	}
	jobs, err := ts.st.Jobs(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]jobShape{
		"compile": {stage: "build", when: store.OnSuccess},
		"unit":    {stage: "test", needs: []string{"compile"}, when: store.OnSuccess},
		"lint":    {stage: "test", when: store.OnSuccess},
		"ship":    {stage: "deploy", needs: []string{"unit"}, tags: []string{"prod"}, when: store.Always},
		// Stored to wait until played; sent to run when it is.
		"manual-deploy": {stage: "deploy", needs: []string{"compile", "unit", "lint"}, when: store.Manual},
	}
	if len(jobs) != len(want) {
		t.Fatalf("jobs %v, want %v", names(jobs), want)
	}
	for _, j := range jobs {
		w, ok := want[j.Name]
		if !ok || j.Stage != w.stage || !slices.Equal(j.Needs, w.needs) || !slices.Equal(j.Tags, w.tags) || j.When != w.when {
			t.Errorf("job %s: stage %q needs %q tags %q when %q, want %+v", j.Name, j.Stage, j.Needs, j.Tags, j.When, w)
		}
		if pj := checkDocument(t, j, pipeline.GitLab, ".gitlab-ci.yml"); pj.When != pipeline.OnSuccess && j.Name == "manual-deploy" {
			t.Errorf("played manual job's document says when %q: the runner would skip it", pj.When)
		}
	}
}

func names(jobs []store.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Name)
	}
	return out
}

// checkDocument reads a job's document back as a runner would.
func checkDocument(t *testing.T, j store.Job, d pipeline.Dialect, file string) *pipeline.Job {
	t.Helper()
	doc, err := pipeline.DecodeDocument(j.Document)
	if err != nil {
		t.Fatalf("job %s: %v", j.Name, err)
	}
	p := doc.Pipeline
	if p.Dialect != d || p.File != file || len(p.Stages) != 1 || p.Stages[0].Name != j.Stage || len(p.Stages[0].Jobs) != 1 || p.Stages[0].Jobs[0].Name != j.Name {
		t.Fatalf("job %s: document %s", j.Name, j.Document)
	}
	return p.Stages[0].Jobs[0]
}

func TestPushBrokenFileMakesErrorBuild(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/broken", ".gitlab-ci.yml", "stages: [build]\nunit:\n  stage: nope\n  script: [echo]\n")
	if len(builds) != 1 {
		t.Fatalf("builds: %+v", builds)
	}
	b := builds[0]
	if b.Status != store.BuildError || !regexp.MustCompile(`^\.gitlab-ci\.yml:3:\d+: .*nope`).MatchString(b.Error) {
		t.Errorf("build %s: error %q, want .gitlab-ci.yml:3:col naming the stage", b.Status, b.Error)
	}
	if jobs, _ := ts.st.Jobs(context.Background(), b.ID); len(jobs) != 0 {
		t.Errorf("a broken file queued jobs: %v", names(jobs))
	}
}

func TestPushWithoutPipelineFile(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/none", "README", "hello\n")
	if len(builds) != 1 || builds[0].Status != store.BuildError || !strings.Contains(builds[0].Error, "no pipeline file") {
		t.Errorf("builds: %+v", builds)
	}
}

func TestPushRefusedWithWrongToken(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/locked")
	_, other := ts.user(t, "mallory")
	for token, want := range map[string]string{"wrong": "unknown API token", other: "mallory may not access octo/locked"} {
		dir, _ := ts.clone(t, "octo/locked", token)
		commitFile(t, dir, ".gitlab-ci.yml", gitlabFile)
		out, err := gitCmd(t, dir, "push", "origin", "main")
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("push with a bad token: %v\n%s", err, out)
		}
	}
	if b := ts.builds(t, repo); len(b) != 0 {
		t.Errorf("a refused push made builds: %+v", b)
	}
	r, err := refs(ts.bareDir("octo", "locked"))
	if err != nil || len(r) != 0 {
		t.Errorf("a refused push stored refs: %v %v", r, err)
	}
}

func TestTagAndBranchPushes(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/tags")
	dir, _ := ts.clone(t, "octo/tags", ts.admin)
	commitFile(t, dir, ".gitlab-ci.yml", "job:\n  image: busybox:1.35\n  script: [echo $CI_COMMIT_TAG]\n  rules:\n    - if: $CI_COMMIT_TAG\n")
	mustGit(t, dir, "tag", "-a", "v1", "-m", "release")
	mustGit(t, dir, "push", "--quiet", "origin", "main", "v1")
	builds := ts.builds(t, repo)
	if len(builds) != 2 {
		t.Fatalf("builds: %+v", builds)
	}
	byRef := map[string]store.Build{}
	for _, b := range builds {
		byRef[b.Ref] = b
	}
	tag, branch := byRef["refs/tags/v1"], byRef["refs/heads/main"]
	if branch.Number != 1 || tag.Number != 2 {
		t.Errorf("one push's builds are numbered by ref name: branch %d, tag %d", branch.Number, tag.Number)
	}
	if tag.Event != "tag" || tag.Commit != strings.TrimSpace(mustGit(t, dir, "rev-parse", "HEAD")) {
		t.Errorf("tag build %+v", tag)
	}
	// rules: if $CI_COMMIT_TAG runs the job for the tag only.
	tagJobs, _ := ts.st.Jobs(context.Background(), tag.ID)
	branchJobs, _ := ts.st.Jobs(context.Background(), branch.ID)
	if len(tagJobs) != 1 || len(branchJobs) != 0 || branch.Status != store.BuildSuccess {
		t.Errorf("tag jobs %v, branch jobs %v (branch build %s)", names(tagJobs), names(branchJobs), branch.Status)
	}
}

const droneFile = `kind: pipeline
name: build
steps:
- name: compile
  image: busybox:1.35
  commands: [echo build]
---
kind: pipeline
name: test
depends_on: [build]
steps:
- name: unit
  image: busybox:1.35
  commands: [echo test]
---
kind: pipeline
name: lint
steps:
- name: lint
  image: busybox:1.35
  commands: [echo lint]
---
kind: pipeline
name: deploy
depends_on: [test]
trigger:
  branch: [release]
steps:
- name: ship
  image: busybox:1.35
  commands: [echo ship]
`

func TestPushDroneFile(t *testing.T) {
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/drone", ".drone.yml", droneFile)
	if len(builds) != 1 || builds[0].Error != "" {
		t.Fatalf("builds: %+v", builds)
	}
	jobs, _ := ts.st.Jobs(context.Background(), builds[0].ID)
	// Needs are the depends_on (Drone's graph: test does not wait for
	// lint); deploy's trigger leaves it out on main.
	want := map[string]jobShape{
		"build": {stage: "stage-1"},
		"lint":  {stage: "stage-1"},
		"test":  {stage: "stage-2", needs: []string{"build"}},
	}
	if len(jobs) != len(want) {
		t.Fatalf("jobs %v", names(jobs))
	}
	for _, j := range jobs {
		w := want[j.Name]
		if j.Stage != w.stage || !slices.Equal(j.Needs, w.needs) {
			t.Errorf("job %s: stage %q needs %q, want %+v", j.Name, j.Stage, j.Needs, w)
		}
		if pj := checkDocument(t, j, pipeline.Drone, ".drone.yml"); len(pj.Steps) != 1 {
			t.Errorf("job %s: steps %+v", j.Name, pj.Steps)
		}
	}
}

// TestJobTokenFetches: a runner clones with gitlab-ci-token and the token
// of a running job of the repository, and may not push with it.
func TestJobTokenFetches(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	repo := ts.enable(t, "octo/fetch")
	other := ts.enable(t, "octo/other")
	dir, _ := ts.clone(t, "octo/fetch", ts.admin)
	commitFile(t, dir, ".gitlab-ci.yml", "job:\n  image: busybox:1.35\n  script: [echo hi]\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	rn, err := ts.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-fetch")
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := ts.st.Claim(ctx, rn.ID, nil, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(ts.url, "http://", "http://gitlab-ci-token:"+claimed.Token+"@", 1)
	out := t.TempDir()
	mustGit(t, out, "clone", "--quiet", base+"/octo/fetch.git", "src")
	if _, err := os.Stat(filepath.Join(out, "src", ".gitlab-ci.yml")); err != nil {
		t.Errorf("the clone lacks the commit: %v", err)
	}
	if msg, err := gitCmd(t, filepath.Join(out, "src"), "push", "origin", "HEAD:refs/heads/evil"); err == nil || !strings.Contains(msg, "403") {
		t.Errorf("a job token pushed: %v %s", err, msg)
	}
	if msg, err := gitCmd(t, out, "clone", base+"/octo/other.git", "other"); err == nil || !strings.Contains(msg, "403") {
		t.Errorf("a job token cloned another repository: %v %s", err, msg)
	}
	if len(ts.builds(t, repo)) != 1 || len(ts.builds(t, other)) != 0 {
		t.Error("refused pushes made builds")
	}
}

// TestRulesChangesComparesWithBefore: rules: changes sees the files the
// push changed since the branch's previous commit.
func TestRulesChangesComparesWithBefore(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/changes")
	dir, _ := ts.clone(t, "octo/changes", ts.admin)
	commitFile(t, dir, ".gitlab-ci.yml", "src:\n  image: busybox:1.35\n  script: [echo src]\n  rules:\n    - changes: [src/**]\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	commitFile(t, dir, "README", "docs only\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	commitFile(t, dir, "src/a.go", "package a\n")
	commitFile(t, dir, "NOTES", "and more\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	builds := ts.builds(t, repo) // newest first
	if len(builds) != 3 {
		t.Fatalf("builds %+v", builds)
	}
	var counts []int
	for _, b := range slices.Backward(builds) {
		jobs, _ := ts.st.Jobs(context.Background(), b.ID)
		counts = append(counts, len(jobs))
	}
	// A new branch runs changes: jobs (as GitLab does); then only a push
	// that touched src/ does.
	if !slices.Equal(counts, []int{1, 0, 1}) {
		t.Errorf("jobs per build %v, want [1 0 1]", counts)
	}
}

// TestIncludeLocalReadsTheCommit: include: local reads the pushed
// commit's files, not the server's working directory.
func TestIncludeLocalReadsTheCommit(t *testing.T) {
	ts := startServer(t, Options{})
	repo := ts.enable(t, "octo/include")
	dir, _ := ts.clone(t, "octo/include", ts.admin)
	os.MkdirAll(filepath.Join(dir, "ci"), 0o755)
	commitFile(t, dir, "ci/jobs.yml", "included:\n  image: busybox:1.35\n  script: [echo included]\n")
	commitFile(t, dir, ".gitlab-ci.yml", "include:\n  - local: ci/jobs.yml\nown:\n  image: busybox:1.35\n  script: [echo own]\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	builds := ts.builds(t, repo)
	if len(builds) != 1 || builds[0].Error != "" {
		t.Fatalf("builds %+v", builds)
	}
	jobs, _ := ts.st.Jobs(context.Background(), builds[0].ID)
	if got := names(jobs); !slices.Contains(got, "included") || !slices.Contains(got, "own") {
		t.Errorf("jobs %v", got)
	}
}
