package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGitLabReports: artifacts: reports: are kept with the artifacts,
// even when the job fails and its paths are not kept; a dotenv report's
// variables reach the later jobs (over the file's own); expire_in is
// recorded, and `slipway gc` removes the artifacts once it has passed
// and leaves the others.
func TestGitLabReports(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, test]
build:
  stage: build
  script:
    - mkdir -p out cov && echo bin > out/bin
    - echo '<testsuite/>' > report.xml
    - echo BUILD_VERSION=1.2.3 > build.env
    - echo '<coverage/>' > cov/cobertura.xml
  artifacts:
    paths: [out/]
    expire_in: 1 second
    reports:
      junit: report.xml
      dotenv: build.env
      coverage_report: {coverage_format: cobertura, path: cov/cobertura.xml}
failing:
  stage: build
  allow_failure: true
  script: ['echo "<testsuite failures=1/>" > fail.xml', 'echo x > never-kept', exit 1]
  artifacts:
    paths: [never-kept]
    reports: {junit: fail.xml}
use:
  stage: test
  variables: {BUILD_VERSION: from-yaml}
  script: ['echo "version is $BUILD_VERSION"']
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "version is 1.2.3\n")
	runs, _ := filepath.Glob(filepath.Join(p.dir, ".slipway", "artifacts", "*"))
	if len(runs) != 1 {
		t.Fatalf("run directories %v, want 1", runs)
	}
	run := runs[0]
	for _, f := range []string{"build/out/bin", "build/report.xml", "build/build.env", "build/cov/cobertura.xml", "failing/fail.xml"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("not kept: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "failing", "never-kept")); err == nil {
		t.Error("a failed job's paths were kept though when: is on_success")
	}
	time.Sleep(1100 * time.Millisecond)
	r = p.run("gc")
	wantCode(t, r, 0)
	mustContain(t, r, "removed 1 expired artifact directory")
	if _, err := os.Stat(filepath.Join(run, "build")); !os.IsNotExist(err) {
		t.Errorf("expired artifacts of build still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run, "failing", "fail.xml")); err != nil {
		t.Errorf("artifacts without expire_in removed: %v", err)
	}
}
