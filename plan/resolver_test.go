package plan

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// TestResolverSettingsNeedTrust: dns, dns_search and extra_hosts are
// refused in untrusted runs (Drone's linter rule) and on Kubernetes, as
// are a user Kubernetes cannot express and a detached step.
func TestResolverSettingsNeedTrust(t *testing.T) {
	at := func(line int) pipeline.Pos { return pipeline.Pos{File: ".drone.yml", Line: line, Column: 5} }
	build := func(target pipeline.Target, user string) *pipeline.Pipeline {
		j := gitlabJob("j", "true")
		j.Target = target
		j.Steps[0].User = user
		j.Steps[0].Pos = at(2)
		j.Steps[0].Host = pipeline.Host{
			DNS:        []pipeline.HostValue{{Value: "1.1.1.1", Pos: at(3)}},
			DNSSearch:  []pipeline.HostValue{{Value: "example.com", Pos: at(4)}},
			ExtraHosts: []pipeline.HostValue{{Value: "db:10.0.0.5", Pos: at(5)}},
		}
		return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	}
	err := apply(build(pipeline.TargetDocker, "nobody"), Policy{})
	want := []string{
		".drone.yml:3:5: dns: 1.1.1.1 needs a trusted run (slipway exec --trusted)",
		".drone.yml:4:5: dns_search: example.com needs a trusted run (slipway exec --trusted)",
		".drone.yml:5:5: extra_hosts: db:10.0.0.5 needs a trusted run (slipway exec --trusted)",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("untrusted: %v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if err := apply(build(pipeline.TargetDocker, "nobody"), Policy{Trusted: true}); err != nil {
		t.Errorf("trusted: %v", err)
	}
	err = apply(build(pipeline.TargetKubernetes, "nobody"), Policy{Trusted: true})
	for _, w := range []string{
		`.drone.yml:2:5: user: "nobody": Kubernetes runs a container as a numeric uid[:gid] only`,
		".drone.yml:3:5: dns: 1.1.1.1: not supported on Kubernetes",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("kubernetes: %v lacks %q", err, w)
		}
	}
	p := build(pipeline.TargetKubernetes, "1000:1000")
	p.Stages[0].Jobs[0].Steps[0].Host = pipeline.Host{}
	if err := apply(p, Policy{}); err != nil {
		t.Errorf("numeric user on kubernetes: %v", err)
	}
	// The Kubernetes engine runs a detached step as an ephemeral
	// container left running.
	p.Stages[0].Jobs[0].Steps[0].Detach = true
	if err := apply(p, Policy{}); err != nil {
		t.Errorf("detach on kubernetes: %v", err)
	}
}
