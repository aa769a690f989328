package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGitLabArtifacts: build makes a program (a shell script) kept as an
// artifact; test and deploy, later stages, find it in their workspace
// and run it; a job with dependencies: [] gets nothing; excluded files
// are not kept. The artifacts stay in .slipway/artifacts beside the file,
// listed at the end, and that directory is not copied into the jobs.
func TestGitLabArtifacts(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, test, deploy]
build:
  stage: build
  script:
    - mkdir -p bin
    - printf '#!/bin/sh\necho "hello from the built program, $1"\n' > bin/hello
    - chmod +x bin/hello
    - echo scratch > bin/hello.tmp
  artifacts:
    name: program
    paths: [bin/]
    exclude: [bin/*.tmp]
    expire_in: 1 day
test:
  stage: test
  script:
    - ./bin/hello test
    - test ! -e bin/hello.tmp
alone:
  stage: test
  dependencies: []
  script:
    - if [ -e bin/hello ]; then echo alone got the program; else echo alone got nothing; fi
deploy:
  stage: deploy
  script: [./bin/hello deploy, test ! -e .slipway]
`)
	dir := filepath.Join(p.dir, ".slipway", "artifacts")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "hello from the built program, test\n", "hello from the built program, deploy\n",
		"alone got nothing\n", "Downloading artifacts from build", "Artifacts kept in ", "build: 1 files: bin/hello")
	mustNotContain(t, r, "alone got the program\n")
	kept, _ := filepath.Glob(filepath.Join(dir, "*", "build", "bin", "hello"))
	if len(kept) != 1 {
		t.Fatalf("kept %v, want the one program under %s", kept, dir)
	}
	if fi, err := os.Stat(kept[0]); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("kept program %v %v: want it executable", fi, err)
	}
}
