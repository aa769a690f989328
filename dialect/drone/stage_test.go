package drone

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// TestStageSubstitutionPerDocument: each pipeline document is substituted
// with its own DRONE_STAGE_* values, as Drone's runner substitutes the
// file for the stage it runs; steps get them in their environment too.
func TestStageSubstitutionPerDocument(t *testing.T) {
	in := `kind: pipeline
name: build
steps:
- name: s
  image: busybox:${DRONE_STAGE_NUMBER}
  commands: ["echo ${DRONE_STAGE_NAME} ${DRONE_STAGE_TYPE} ${DRONE_STAGE_OS}/${DRONE_STAGE_ARCH} on ${DRONE_STAGE_MACHINE}"]
---
kind: secret
name: token
---
kind: pipeline
type: kubernetes
name: deploy
depends_on: [build]
platform: {os: linux, arch: amd64, variant: v8}
steps:
- name: s
  image: busybox:${DRONE_STAGE_NUMBER}
  commands: ["echo ${DRONE_STAGE_NAME^^} ${DRONE_STAGE_TYPE} after ${DRONE_STAGE_DEPENDS_ON} ${DRONE_STAGE_VARIANT}"]
`
	pl, warns, err := Parse("t.yml", []byte(in), goldenContext)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	jobs := pl.Jobs()
	want := []struct{ image, cmd string }{
		{"busybox:1", "echo build docker linux/amd64 on ci-host"},
		{"busybox:2", "echo DEPLOY kubernetes after build v8"},
	}
	for i, w := range want {
		st := jobs[i].Steps[0]
		if st.Image.Name != w.image || st.Commands[0] != w.cmd {
			t.Errorf("job %s: image %s, command %q; want %s, %q", jobs[i].Name, st.Image.Name, st.Commands[0], w.image, w.cmd)
		}
	}
	env := map[string]string{}
	for _, e := range jobs[1].Steps[0].Env {
		env[e.Name] = e.Value
	}
	for k, v := range map[string]string{"DRONE_STAGE_NAME": "deploy", "DRONE_STAGE_NUMBER": "2", "DRONE_STAGE_KIND": "pipeline",
		"DRONE_STAGE_TYPE": "kubernetes", "DRONE_STAGE_MACHINE": "ci-host", "DRONE_STAGE_STATUS": "success",
		"DRONE_STAGE_DEPENDS_ON": "build", "DRONE_RUNNER_HOSTNAME": "ci-host", "DRONE_RUNNER_PLATFORM": "linux/amd64"} {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
}

// TestPipelineGraph: every pipeline needs exactly what its depends_on
// names; a skipped pipeline stands for what it depends on.
func TestPipelineGraph(t *testing.T) {
	in := `kind: pipeline
name: a
steps: [{name: s, image: alpine}]
---
kind: pipeline
name: b
steps: [{name: s, image: alpine}]
---
kind: pipeline
name: tagged
depends_on: [a]
trigger: {event: [tag]}
steps: [{name: s, image: alpine}]
---
kind: pipeline
name: c
depends_on: [tagged, b, b]
trigger: {status: [success, failure]}
steps: [{name: s, image: alpine}]
`
	pl, _, err := Parse("t.yml", []byte(in), goldenContext)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, j := range pl.Jobs() {
		if !j.DAG {
			t.Errorf("job %s is not a DAG job", j.Name)
		}
		got[j.Name] = j.Needs
	}
	want := map[string][]string{"a": nil, "b": nil, "c": {"a", "b"}}
	for name, needs := range want {
		if !slices.Equal(got[name], needs) {
			t.Errorf("%s needs %v, want %v", name, got[name], needs)
		}
	}
	if len(got) != 3 {
		t.Errorf("jobs %v, want a, b, c", got)
	}
	if c := pl.Jobs()[2]; c.When != pipeline.Always {
		t.Errorf("c: when %q, want always", c.When)
	}
	var stages []string
	for _, st := range pl.Stages {
		var names []string
		for _, j := range st.Jobs {
			names = append(names, j.Name)
		}
		stages = append(stages, strings.Join(names, ","))
	}
	if strings.Join(stages, " | ") != "a,b | c" {
		t.Errorf("stages %v, want a,b | c", stages)
	}
}
