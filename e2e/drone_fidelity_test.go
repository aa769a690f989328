package e2e

import (
	"testing"
)

// TestDroneShellAndSubstitution: steps run under sh -e without pipefail;
// Drone's variables are substituted into the file ($$ is a literal $) and
// set in the containers.
func TestDroneShellAndSubstitution(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: build
  image: busybox:1.35
  commands:
  - yes | head -n 2
  - echo "home $${HOME}"
  - echo "repo ${DRONE_REPO_NAME^^} branch ${DRONE_BRANCH##feature/} step $DRONE_STEP_NAME"
  - echo "empty [${DRONE_TAG}] unset ${DRONE_TAG:-none}"
`)
	r := p.run("exec", "--branch", "feature/fast")
	wantCode(t, r, 0)
	mustContain(t, r, "+ yes | head -n 2\ny\ny\n", "home /root\n", "repo PROJECT branch fast step build\n", "empty [] unset none\n")
}

// TestDroneCloneDependencyAndExit78: depends_on: [clone] is valid, and a
// step exiting 78 ends the pipeline early, successfully.
func TestDroneCloneDependencyAndExit78(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: first
  image: busybox:1.35
  depends_on: [clone]
  commands:
  - cat main.go
- name: stop
  image: busybox:1.35
  commands:
  - echo nothing to do
  - exit 78
- name: never
  image: busybox:1.35
  commands:
  - echo never ran
`, "main.go", "package main\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "package main\n", "nothing to do\n", "step stop exited with code 78: the job ends here, successfully")
	mustNotContain(t, r, "never ran\n")
}

// TestDroneDetachedStepAndServiceCommands: a detached step serves a
// later step by name and on localhost; a service's commands run in the
// workspace.
func TestDroneDetachedStepAndServiceCommands(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
services:
- name: files
  image: busybox:1.35
  commands:
  - echo "from the workspace" > served.txt
  - exec httpd -f -p 8081 -h .
steps:
- name: server
  image: busybox:1.35
  detach: true
  commands:
  - echo "detached" > /tmp/index.html
  - echo "serving in the background"
  - exec httpd -f -p 8080 -h /tmp
- name: client
  image: busybox:1.35
  commands:
  - for i in $(seq 50); do wget -qO- http://server:8080/ && break; sleep 0.2; done
  - wget -qO- http://127.0.0.1:8080/
  - for i in $(seq 50); do wget -qO- http://localhost:8081/served.txt && break; sleep 0.2; done
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "[default/server] serving in the background\n", "http://server:8080/ && break; sleep 0.2; done\ndetached\n", "+ wget -qO- http://127.0.0.1:8080/\ndetached\n", "from the workspace\n")
}

// TestDrone0xMatrixRunsEveryCombination: a Drone 0.8 matrix becomes one
// pipeline per combination, its values substituted and in the
// environment.
func TestDrone0xMatrixRunsEveryCombination(t *testing.T) {
	p := newProject(t, ".drone.yml", `
matrix:
  FLAVOUR: [plain, spicy]
pipeline:
  build:
    image: busybox:1.35
    commands:
      - echo "flavour ${FLAVOUR} env $FLAVOUR"
  build:
    image: busybox:1.35
    commands:
      - echo "the second build step"
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "flavour plain env plain\n", "flavour spicy env spicy\n", `Job "FLAVOUR=plain" passed`, `Job "FLAVOUR=spicy" passed`, "the second build step\n")
}

// TestDroneWorkspaceBaseSharedBySteps: the volume is at base (a GOPATH)
// and the checkout at base/path; what one step leaves in base, the next
// finds. user: and a memory-backed temp volume are honoured; the latter,
// as Drone's linter says, only in a trusted run.
func TestDroneWorkspaceBaseSharedBySteps(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
workspace:
  base: /go
  path: src/example.com/app
volumes:
- name: scratch
  temp: {medium: memory}
steps:
- name: build
  image: busybox:1.35
  volumes:
  - {name: scratch, path: /scratch}
  commands:
  - pwd
  - cat main.go
  - mkdir -p /go/bin && echo binary > /go/bin/app
  - grep -c ' /scratch tmpfs ' /proc/mounts
- name: test
  image: busybox:1.35
  user: "1234"
  commands:
  - cat /go/bin/app
  - id -u
`, "main.go", "package main\n")
	r := p.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r, ".drone.yml:8:3: volumes: the temp volume scratch in memory (medium: memory) needs a trusted run")
	mustNotContain(t, r, "Running job")
	r = p.run("exec", "--trusted")
	wantCode(t, r, 0)
	mustContain(t, r, "/go/src/example.com/app\n", "package main\n", "+ grep -c ' /scratch tmpfs ' /proc/mounts\n1\n", "+ cat /go/bin/app\nbinary\n", "+ id -u\n1234\n")
}

// TestDroneLintNeedsNoSecretsAndSeesTags: lint plans a file whose secrets
// were not given (exec refuses it before starting anything), and --tag
// makes a tag build.
func TestDroneLintNeedsNoSecretsAndSeesTags(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: release
trigger:
  event: [tag]
steps:
- name: publish
  image: busybox:1.35
  environment:
    TOKEN: {from_secret: token}
  commands:
  - echo "publishing ${DRONE_TAG##v}"
`)
	r := p.run("lint", "--tag", "v1.2.3")
	wantCode(t, r, 0)
	mustContain(t, r, "secrets not given (placeholders here; exec needs them): token\n", "echo \"publishing 1.2.3\"\n",
		`TOKEN needs secret "token", which was not given: lint goes on without it`)
	r = p.run("exec", "--tag", "v1.2.3")
	wantCode(t, r, 2)
	mustContain(t, r, `TOKEN needs secret "token", which was not given (use --secret token=VALUE)`)
	mustNotContain(t, r, "publishing")
	r = p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, `pipeline "release" is skipped: trigger.event does not match event "push"`)
}

// TestDronePrivilegedPlugin: plugins/docker used as a plugin runs
// privileged, as on Drone, in a trusted run (with a note); an untrusted
// run refuses it before anything starts.
func TestDronePrivilegedPlugin(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: publish
  image: `+privilegedPluginImage+`
  settings:
    repo: example/app
`)
	r := p.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r, "step publish: Drone runs "+privilegedPluginImage+" privileged (Docker in Docker); here that needs a trusted run")
	r = p.run("exec", "--trusted")
	mustContain(t, r, "step publish runs privileged, as Drone runs "+privilegedPluginImage)
	// Privileged containers cannot start on some test machines (runc
	// lacks a capability; see TestTrustedSettings): there the engine's
	// refusal shows it was asked for privileged.
	if r.code == 1 {
		mustContain(t, r, "unable to apply caps")
		return
	}
	wantCode(t, r, 0)
	// A container that is not privileged has Docker's default set.
	mustContain(t, r, "CapEff:\t")
	mustNotContain(t, r, "CapEff:\t00000000a80425fb")
}

// TestDroneCommitVariables: in a git checkout, the commit's facts are
// substituted and set as Drone sets them.
func TestDroneCommitVariables(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: show
  image: busybox:1.35
  commands:
  - echo "short ${DRONE_COMMIT_SHA:0:8} branch ${DRONE_BRANCH}"
  - echo "sha $DRONE_COMMIT_SHA author $DRONE_COMMIT_AUTHOR_EMAIL repo $DRONE_REPO_BRANCH"
`)
	sha := commitAll(t, p.dir, "Add the pipeline\n")
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "short "+sha[:8]+" branch main\n", "sha "+sha+" author ada@example.com repo main\n")
}
