package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

func TestPrepareExpandsVariablesInImageNames(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Steps[0].Image = pipeline.Image{Name: "$REGISTRY/app:${TAG}"}
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "REGISTRY", Value: "127.0.0.1:5000/team"}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := Prepare(p, Policy{Env: []pipeline.EnvVar{{Name: "TAG", Value: "1.2"}}})
	if err != nil || j.Steps[0].Image.Ref != "127.0.0.1:5000/team/app:1.2" {
		t.Errorf("%v %+v", err, j.Steps[0].Image)
	}
	j.Steps[0].Image = pipeline.Image{Name: "$MISSING:1", Pos: pipeline.Pos{File: "f.yml", Line: 3, Column: 10}}
	err = Prepare(p, Policy{})
	if err == nil || !strings.Contains(err.Error(), `f.yml:3:10: image $MISSING:1 expands to ":1"`) {
		t.Errorf("%v", err)
	}
}

func TestPrepareRefusesHostSettingsUnlessTrusted(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Steps[0].Volumes = []pipeline.Volume{{Source: "/srv/data", Target: "/data", Pos: pipeline.Pos{File: ".drone.yml", Line: 7, Column: 5}}}
	j.Steps[0].Privileged = pipeline.Setting{Value: true, Pos: pipeline.Pos{File: ".drone.yml", Line: 9, Column: 17}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := Prepare(p, Policy{})
	for _, want := range []string{".drone.yml:7:5: volumes: mounting the host path /srv/data needs a trusted run", ".drone.yml:9:17: privileged: true needs a trusted run"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := Prepare(p, Policy{Trusted: true}); err != nil {
		t.Errorf("trusted: %v", err)
	}
}

func TestPrepareAllowLists(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Services = []*pipeline.Service{{Name: "db", Image: img("mysql:8")}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := Prepare(p, Policy{AllowedImages: []string{"busybox:*"}, AllowedServices: []string{"redis:*", "postgres:*"}})
	if err == nil || !strings.Contains(err.Error(), "service mysql:8 is not allowed by the runner configuration (allowed: redis:*, postgres:*)") {
		t.Errorf("%v", err)
	}
	j.Services = nil
	if err := Prepare(p, Policy{AllowedImages: []string{"docker.io/library/busybox:*"}}); err != nil {
		t.Errorf("normalised pattern: %v", err)
	}
}

func TestTrustedRunsStillRefuseTheHostsControlPaths(t *testing.T) {
	link := filepath.Join(t.TempDir(), "innocent")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, want string
		pol       Policy
	}{
		{"/var/run/docker.sock", "mounting /var/run/docker.sock (a control socket", Policy{Trusted: true}},
		{"/", "the host's root", Policy{Trusted: true}},
		{"/proc/1", "a host system directory", Policy{Trusted: true}},
		{link, "the host's root", Policy{Trusted: true}},
		{"/srv/cache", "", Policy{Trusted: true}},
		{"/var/run/docker.sock", "", Policy{Trusted: true, AllowedHostPaths: []string{"/var/run/docker.sock"}}},
		{"/srv/other", "outside the runner configuration's allowed_host_paths (/srv/cache)", Policy{Trusted: true, AllowedHostPaths: []string{"/srv/cache"}}},
		{"/srv/cache/sub", "", Policy{Trusted: true, AllowedHostPaths: []string{"/srv/cache"}}},
		{"/srv/cache", "forbids host paths (forbid_host_access)", Policy{Trusted: true, ForbidHostAccess: true}},
	} {
		j := gitlabJob("j", "true")
		j.Steps[0].Volumes = []pipeline.Volume{{Source: tc.src, Target: "/x"}}
		err := Prepare(pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), tc.pol)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %+v: %v", tc.src, tc.pol, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %+v: error %v, want %q", tc.src, tc.pol, err, tc.want)
		}
	}
}
