package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// As gitlab-runner: the file's pull_policy (else the runner's) is
// intersected with allowed_pull_policies; nothing left refuses the image.
func TestPullPolicyIntersection(t *testing.T) {
	const (
		always = pipeline.PullAlways
		ifNot  = pipeline.PullIfNotExists
		never  = pipeline.PullNever
	)
	for _, tt := range []struct {
		file, runner, allowed, want []pipeline.PullPolicy
		err                         string
	}{
		{file: []pipeline.PullPolicy{always, ifNot}, allowed: []pipeline.PullPolicy{ifNot, never}, want: []pipeline.PullPolicy{ifNot}},
		{file: []pipeline.PullPolicy{always}, allowed: []pipeline.PullPolicy{ifNot}, err: "busybox:1.35: pull_policy ([always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([if-not-present])"},
		{runner: []pipeline.PullPolicy{always}, allowed: []pipeline.PullPolicy{never}, err: "pull_policy ([always]) defined in Runner config is not one"},
		{runner: []pipeline.PullPolicy{never, ifNot}, allowed: []pipeline.PullPolicy{never}, want: []pipeline.PullPolicy{never}},
	} {
		j := gitlabJob("j", "true")
		j.Steps[0].Image.Pull = tt.file
		err := apply(pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), Policy{PullPolicy: tt.runner, AllowedPullPolicies: tt.allowed})
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%+v: error %v, want %q", tt, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%+v: %v", tt, err)
		case tt.err == "" && !slices.Equal(j.Steps[0].Image.Pull, tt.want):
			t.Errorf("%+v: policies %v, want %v", tt, j.Steps[0].Image.Pull, tt.want)
		}
	}
}
