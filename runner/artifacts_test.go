package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

func withArtifacts(j *pipeline.Job, a pipeline.Artifacts, from ...string) *pipeline.Job {
	j.Artifacts, j.ArtifactsFrom = &a, from
	return j
}

// TestArtifactsKeptAndPassedOn: a job's artifacts are the files of its
// workspace its globs name (a directory with its tree), less the
// excluded ones; later jobs get the directories of the jobs they take
// artifacts from; the end of the run lists them.
func TestArtifactsKeptAndPassedOn(t *testing.T) {
	f := newFake()
	f.files = map[string]string{"out/app.sh": "#!/bin/sh\n", "out/notes.txt": "n", "dist/a/b.bin": "b", "dist/x.tmp": "t", "src.go": "s", "new.log": "l"}
	r, out := newTestRunner(f)
	r.Artifacts = t.TempDir()
	r.Workspace = t.TempDir()
	if err := os.WriteFile(filepath.Join(r.Workspace, "src.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), pipelineOf(
		pipeline.Stage{Name: "build", Jobs: []*pipeline.Job{
			withArtifacts(gitlabJob("build: [linux]", "true"), pipeline.Artifacts{Paths: []string{"out/*.sh", "dist/", "none/*"}, Exclude: []string{"dist/*.tmp"}}),
			withArtifacts(gitlabJob("scratch", "true"), pipeline.Artifacts{Untracked: true, Exclude: []string{"**/*.tmp"}}),
		}},
		pipeline.Stage{Name: "test", Jobs: []*pipeline.Job{
			withArtifacts(gitlabJob("test", "true"), pipeline.Artifacts{When: pipeline.OnFailure}, "build: [linux]", "scratch"),
			gitlabJob("none", "true"),
		}},
	))
	if res.Failed() {
		t.Fatalf("result %+v\n%s", res, out)
	}
	build := filepath.Join(r.Artifacts, "build___linux_")
	if got := f.inputs["j1-0"]; !slices.Equal(got, []string{build, filepath.Join(r.Artifacts, "scratch")}) {
		t.Errorf("test's inputs %v", got)
	}
	if got := f.inputs["j1-1"]; got != nil {
		t.Errorf("none's inputs %v", got)
	}
	if fi, err := os.Stat(filepath.Join(build, "out", "app.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("app.sh kept: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(r.Artifacts, "test")); err == nil {
		t.Error("test kept artifacts when: on_failure after passing")
	}
	for _, line := range []string{
		"Downloading artifacts from build: [linux], scratch",
		"WARNING: artifacts: none/*: no matching files",
		"Artifacts kept in " + r.Artifacts + ":",
		"build: [linux]: 2 files: dist/a/b.bin out/app.sh",
		// untracked: everything the checkout did not have, less *.tmp.
		"scratch: 4 files: dist/a/b.bin new.log out/app.sh out/notes.txt",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestArtifactsWhenOnFailure: a failed job keeps artifacts with when:
// on_failure or always, not on_success.
func TestArtifactsWhenOnFailure(t *testing.T) {
	f := newFake()
	f.exit["exit 1"] = 1
	f.files = map[string]string{"log.txt": "x"}
	r, _ := newTestRunner(f)
	r.Artifacts = t.TempDir()
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{
		withArtifacts(gitlabJob("a", "exit 1"), pipeline.Artifacts{Paths: []string{"*.txt"}}),
		withArtifacts(gitlabJob("b", "exit 1"), pipeline.Artifacts{Paths: []string{"*.txt"}, When: pipeline.OnFailure}),
		withArtifacts(gitlabJob("c", "exit 1"), pipeline.Artifacts{Paths: []string{"*.txt"}, When: pipeline.Always}),
	}}))
	for job, want := range map[string]bool{"a": false, "b": true, "c": true} {
		_, err := os.Stat(filepath.Join(r.Artifacts, job, "log.txt"))
		if (err == nil) != want {
			t.Errorf("job %s kept log.txt: %v, want %v", job, err == nil, want)
		}
	}
}
