package e2e

import (
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerArtifactsBetweenJobs: a GitLab build → test pipeline through
// the server and a slipway runner. build's artifact goes up to the server
// (POST jobs/:id/artifacts) and test, told of it in its dependencies[],
// downloads it and reads it; a file build did not keep does not reach test.
// build's dotenv report reaches test's environment, over test's own
// variable of the same name, as on GitLab; CI_RUNNER_* are the runner's.
func TestServerArtifactsBetweenJobs(t *testing.T) {
	sv := serve(t)
	addr, url, admin := sv.addr, sv.url, sv.admin
	apiCall(t, "POST", url+"/api/repos/octo/arts", admin, "")
	push(t, addr, admin, "octo/arts", ".gitlab-ci.yml", `
stages: [build, test]
build:
  stage: build
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script:
    - mkdir -p out && echo "built at $CI_JOB_ID" > out/app.txt && echo scratch > notkept.txt
    - chmod 755 out/app.txt
    - echo "BUILD_VERSION=1.2.$CI_JOB_ID" > build.env
  artifacts:
    paths: [out/]
    reports:
      dotenv: build.env
test:
  stage: test
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script:
    - cat out/app.txt
    - test -x out/app.txt && echo "mode kept"
    - test ! -e notkept.txt && echo "scratch not passed"
    - echo "version from build $BUILD_VERSION"
    - echo "runner $CI_RUNNER_ID ($CI_RUNNER_DESCRIPTION) on $CI_RUNNER_EXECUTABLE_ARCH, ${CI_RUNNER_VERSION:+versioned}"
  variables:
    BUILD_VERSION: "from the file"
`)
	// Another runner's token first: this runner's id is 2, not the 1 the
	// server's parse put in the document.
	if out, err := exec.Command(slipway, "runner", "token", "create", "--server", url, "--token", admin, "--tags", "other").CombinedOutput(); err != nil {
		t.Fatalf("runner token create: %v %s", err, out)
	}
	runner := startRunner(t, url, admin)
	defer func() { runner.signal(syscall.SIGTERM); runner.waitWithin(60 * time.Second) }()
	if st := waitBuild(t, url, admin, "octo/arts"); st != "success" {
		t.Fatalf("build ended %s:\nbuild log:\n%s\ntest log:\n%s\nrunner:\n%s", st, jobLog(t, url, admin, "octo/arts", 1),
			jobLog(t, url, admin, "octo/arts", 2), runner.stderr.String())
	}
	buildLog := jobLog(t, url, admin, "octo/arts", 1)
	testLog := jobLog(t, url, admin, "octo/arts", 2)
	if !strings.Contains(buildLog, "Artifacts of build uploaded to the server") {
		t.Errorf("build's log does not say its artifacts went up:\n%s", buildLog)
	}
	for _, want := range []string{"Downloading artifacts of build", "built at ", "mode kept", "scratch not passed", "version from build 1.2.",
		"runner 2 (", ") on " + runtime.GOOS + "/" + runtime.GOARCH + ", versioned"} {
		if !strings.Contains(testLog, want) {
			t.Errorf("test's log lacks %q:\n%s", want, testLog)
		}
	}
}
