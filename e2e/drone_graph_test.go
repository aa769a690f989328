package e2e

import (
	"os"
	"strings"
	"testing"
)

// droneGraph is a file of four pipelines: a and b are independent and
// each waits for the other to have started (through a host directory
// they share), so they pass only when run side by side; c depends on a
// alone, and b waits for c to have started, so c must start when a ends,
// not after b; d depends on b.
const droneGraph = `kind: pipeline
name: a
volumes: [{name: shared, host: {path: SHARED}}]
steps:
- name: s
  image: busybox:1.35
  volumes: [{name: shared, path: /shared}]
  commands:
  - touch /shared/a
  - for i in $(seq 300); do test -f /shared/b && break; sleep 0.1; done; test -f /shared/b
  - echo "a saw b running"
  - LAST_OF_A
---
kind: pipeline
name: b
volumes: [{name: shared, host: {path: SHARED}}]
steps:
- name: s
  image: busybox:1.35
  volumes: [{name: shared, path: /shared}]
  commands:
  - touch /shared/b
  - B_WAITS
---
kind: pipeline
name: c
depends_on: [a]
volumes: [{name: shared, host: {path: SHARED}}]
steps:
- name: s
  image: busybox:1.35
  volumes: [{name: shared, path: /shared}]
  commands:
  - touch /shared/c
  - echo "c runs as ${DRONE_STAGE_NAME} number ${DRONE_STAGE_NUMBER}, env $DRONE_STAGE_NAME after $DRONE_STAGE_DEPENDS_ON"
---
kind: pipeline
name: d
depends_on: [b]
steps:
- name: s
  image: busybox:1.35
  commands:
  - echo "d runs as ${DRONE_STAGE_NAME}"
`

// graphProject writes droneGraph with the shared directory, a's last
// command and b's wait for c (which a failed a leaves out: c never runs).
func graphProject(t *testing.T, lastOfA, bWaits string) *project {
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	file := strings.NewReplacer("SHARED", shared, "LAST_OF_A", lastOfA, "B_WAITS", bWaits).Replace(droneGraph)
	return newProject(t, ".drone.yml", file)
}

const bWaitsForC = `for i in $(seq 300); do test -f /shared/c && break; sleep 0.1; done; test -f /shared/c && echo "b saw c running"`

// TestDronePipelineGraph: depends_on between pipelines is Drone's graph:
// independent pipelines run side by side, a pipeline starts as soon as
// those it depends on have finished (c before b ends), and
// DRONE_STAGE_* is each document's own, in the file and in the
// environment.
func TestDronePipelineGraph(t *testing.T) {
	p := graphProject(t, "true", bWaitsForC)
	r := p.run("exec", "--trusted", "--concurrency", "2")
	wantCode(t, r, 0)
	mustContain(t, r, "a saw b running\n", "b saw c running\n",
		"c runs as c number 3, env c after a\n", "d runs as d\n",
		`Job "a" passed`, `Job "b" passed`, `Job "c" passed`, `Job "d" passed`)
}

// TestDroneFailedPipelineStopsOnlyDependents: a failed pipeline skips
// the pipelines that depend on it, and the independent ones, and theirs,
// still run; the run fails.
func TestDroneFailedPipelineStopsOnlyDependents(t *testing.T) {
	p := graphProject(t, "exit 3", "echo b did not wait")
	r := p.run("exec", "--trusted", "--concurrency", "2")
	wantCode(t, r, 1)
	mustContain(t, r, "a saw b running\n", "b did not wait\n", "d runs as d\n",
		`Job "b" passed`, `Job "d" passed`, `Skipping job "c"`)
	mustNotContain(t, r, "c runs as")
}
