package plan

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/pipeline"
)

func TestRefuses(t *testing.T) {
	no, yes := false, true
	tagged := config.Runner{Tags: []string{"docker", "Linux"}}
	for _, c := range []struct {
		tags []string
		r    config.Runner
		want string // "" takes it; else part of the reason
	}{
		{nil, config.Runner{}, ""},
		{[]string{"docker"}, config.Runner{}, ""},
		{[]string{"saas-linux-small-amd64"}, config.Runner{}, ""},
		{[]string{"docker", "arm64"}, config.Runner{}, "ask for a runner on arm64, and this one is on linux/amd64"},
		{[]string{"saas-macos-medium-m1"}, config.Runner{}, "ask for a runner on darwin"},
		{[]string{"windows"}, config.Runner{}, "ask for a runner on windows"},
		{[]string{"win"}, config.Runner{}, "windows"},
		{[]string{"darwin-builder"}, config.Runner{}, "darwin"},
		{nil, config.Runner{RunUntagged: &no}, "run_untagged is false"},
		{nil, tagged, "run_untagged is false"},
		{nil, config.Runner{Tags: []string{"x"}, RunUntagged: &yes}, ""},
		{[]string{"docker"}, tagged, ""},
		{[]string{"docker", "linux"}, tagged, ""},
		{[]string{"docker", "gpu"}, tagged, "its tags (docker, gpu) are not all among the runner configuration's tags (docker, Linux)"},
		{[]string{"macos"}, config.Runner{Tags: []string{"macos"}}, ""},
	} {
		got := refuses(c.tags, c.r, "linux", "amd64")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("tags %v, runner %+v: %q, want %q", c.tags, c.r, got, c.want)
		}
	}
}

func TestPrepareLeavesOutJobsForOtherRunners(t *testing.T) {
	mac, lin := gitlabJob("mac", "true"), gitlabJob("lin", "true")
	mac.Tags, mac.Pos = []string{"macos"}, pipeline.Pos{File: "t.yml", Line: 3, Column: 1}
	p := pipelineOf(pipeline.Stage{Name: "a", Jobs: []*pipeline.Job{mac}}, pipeline.Stage{Name: "b", Jobs: []*pipeline.Job{lin}})
	p.Dialect = pipeline.GitLab
	pl, warns, err := Prepare(p, config.Runner{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Stages) != 1 || pl.Stages[0].Jobs[0].Name != "lin" {
		t.Errorf("stages %+v: want only stage b with lin", pl.Stages)
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0].Error(), "t.yml:3:1: job mac is left out: its tags (macos) ask for a runner on darwin") {
		t.Errorf("warnings %v", warns)
	}
}
