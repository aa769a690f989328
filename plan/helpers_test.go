package plan

import "github.com/slipway-ci/slipway/pipeline"

func img(name string) pipeline.Image {
	return pipeline.Image{Name: name, Ref: "docker.io/library/" + name}
}

func gitlabJob(name string, script ...string) *pipeline.Job {
	return &pipeline.Job{
		Name: name, Network: pipeline.NetworkPerJob, Workspace: "/builds/g/p",
		Steps: []*pipeline.Step{{Container: pipeline.Container{Name: "script", Image: img("busybox:1.35")}, Commands: script, Shell: pipeline.ShellGitLab}},
	}
}

func pipelineOf(stages ...pipeline.Stage) *pipeline.Pipeline {
	return &pipeline.Pipeline{File: "t.yml", Stages: stages}
}
