package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/pipeline"
)

func TestPrepareExpandsVariablesInImageNames(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Steps[0].Image = pipeline.Image{Name: "$REGISTRY/app:${TAG}"}
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "REGISTRY", Value: "127.0.0.1:5000/team"}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := apply(p, Policy{Env: []pipeline.EnvVar{{Name: "TAG", Value: "1.2"}}})
	if err != nil || j.Steps[0].Image.Ref != "127.0.0.1:5000/team/app:1.2" {
		t.Errorf("%v %+v", err, j.Steps[0].Image)
	}
	j.Steps[0].Image = pipeline.Image{Name: "$MISSING:1", Pos: pipeline.Pos{File: "f.yml", Line: 3, Column: 10}}
	err = apply(p, Policy{})
	if err == nil || !strings.Contains(err.Error(), `f.yml:3:10: image $MISSING:1 expands to ":1"`) {
		t.Errorf("%v", err)
	}
}

func TestPrepareRefusesHostSettingsUnlessTrusted(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Steps[0].Volumes = []pipeline.Volume{{Source: "/srv/data", Target: "/data", Pos: pipeline.Pos{File: ".drone.yml", Line: 7, Column: 5}}}
	j.Steps[0].Privileged = pipeline.Setting{Value: true, Pos: pipeline.Pos{File: ".drone.yml", Line: 9, Column: 17}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := apply(p, Policy{})
	for _, want := range []string{".drone.yml:7:5: volumes: mounting the host path /srv/data needs a trusted run", ".drone.yml:9:17: privileged: true needs a trusted run"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := apply(p, Policy{Trusted: true}); err != nil {
		t.Errorf("trusted: %v", err)
	}
}

func TestPrepareRefusesDevicesCapabilitiesAndHostNetwork(t *testing.T) {
	at := func(line int) pipeline.Pos { return pipeline.Pos{File: ".drone.yml", Line: line, Column: 3} }
	host := pipeline.Host{
		Devices: []pipeline.Volume{{Source: "/dev/fuse", Target: "/dev/fuse", Pos: at(4)}},
		CapAdd:  []pipeline.Capability{{Name: "NET_ADMIN", Pos: at(5)}},
		Network: &pipeline.Setting{Value: true, Pos: at(6)},
	}
	build := func(target pipeline.Target) (*pipeline.Pipeline, *pipeline.Job) {
		j := gitlabJob("j", "true")
		j.Target = target
		j.Steps[0].Host = host
		j.Services = []*pipeline.Service{{Container: pipeline.Container{Name: "vpn", Image: img("busybox"), Host: pipeline.Host{CapAdd: []pipeline.Capability{{Name: "SYS_PTRACE", Pos: at(9)}}}}}}
		return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), j
	}
	p, _ := build("docker")
	err := apply(p, Policy{})
	for _, want := range []string{
		".drone.yml:4:3: devices: the host device /dev/fuse needs a trusted run",
		".drone.yml:5:3: cap_add: NET_ADMIN needs a trusted run",
		".drone.yml:6:3: network_mode: host needs a trusted run",
		".drone.yml:9:3: cap_add: SYS_PTRACE needs a trusted run",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("untrusted: error %v lacks %q", err, want)
		}
	}
	p, _ = build("docker")
	err = apply(p, Policy{Trusted: true, ForbidHostAccess: true})
	if err == nil || strings.Count(err.Error(), "the runner configuration forbids it (forbid_host_access)") != 4 {
		t.Errorf("forbid_host_access: %v", err)
	}
	p, _ = build("docker")
	if err := apply(p, Policy{Trusted: true}); err != nil {
		t.Errorf("trusted: %v", err)
	}
	p, _ = build("kubernetes")
	err = apply(p, Policy{Trusted: true})
	if err == nil || !strings.Contains(err.Error(), ".drone.yml:4:3: devices: not supported on Kubernetes") ||
		!strings.Contains(err.Error(), ".drone.yml:6:3: network_mode: host is not supported on Kubernetes") ||
		strings.Contains(err.Error(), "cap_add") {
		t.Errorf("kubernetes: %v", err)
	}
}

func TestPrepareAppliesRunnerConfigurationHostSettings(t *testing.T) {
	build := func(target pipeline.Target) (*pipeline.Pipeline, *pipeline.Job) {
		j := gitlabJob("j", "true")
		j.Target = target
		j.Steps = append(j.Steps, &pipeline.Step{Container: pipeline.Container{Name: "after", Image: img("busybox:1.35")}, Commands: []string{"true"}})
		j.Services = []*pipeline.Service{{Container: pipeline.Container{Name: "db", Image: img("redis:7.0")}}}
		return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), j
	}
	pol := Policy{Privileged: true, CapAdd: []string{"cap_net_admin"}, Devices: []string{"/dev/fuse"}, Volumes: []string{"/cache", "/srv/x:/x:ro"}}
	p, j := build("docker")
	// No --trusted: the machine's administrator wrote these.
	if err := apply(p, pol); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		priv pipeline.Setting
		host pipeline.Host
		vols []pipeline.Volume
	}{{"step", j.Steps[0].Privileged, j.Steps[0].Host, j.Steps[0].Volumes}, {"service", j.Services[0].Privileged, j.Services[0].Host, j.Services[0].Volumes}} {
		if !c.priv.Value || len(c.host.CapAdd) != 1 || c.host.CapAdd[0].Name != "NET_ADMIN" ||
			len(c.host.Devices) != 1 || c.host.Devices[0].Target != "/dev/fuse" ||
			len(c.vols) != 2 || c.vols[0].Source != "config-cache" || c.vols[1].Source != "/srv/x" || !c.vols[1].ReadOnly {
			t.Errorf("%s: privileged %v, host %+v, volumes %+v", c.name, c.priv, c.host, c.vols)
		}
	}
	p, _ = build("kubernetes")
	err := apply(p, pol)
	if err == nil || strings.Count(err.Error(), "runner configuration devices: devices: not supported on Kubernetes (/dev/fuse)") != 1 {
		t.Errorf("kubernetes: %v", err)
	}
	for _, bad := range []Policy{{Devices: []string{"fuse"}}, {Volumes: []string{"cache"}}, {Volumes: []string{"/a:/b:rx"}}} {
		p, _ = build("docker")
		if err := apply(p, bad); err == nil || !strings.HasPrefix(err.Error(), "runner configuration ") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestPrepareAllowLists(t *testing.T) {
	j := gitlabJob("j", "true")
	j.Services = []*pipeline.Service{{Container: pipeline.Container{Name: "db", Image: img("mysql:8")}}}
	p := pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
	err := apply(p, Policy{AllowedImages: []string{"busybox:*"}, AllowedServices: []string{"redis:*", "postgres:*"}})
	if err == nil || !strings.Contains(err.Error(), "service mysql:8 is not allowed by the runner configuration (allowed: redis:*, postgres:*)") {
		t.Errorf("%v", err)
	}
	j.Services = nil
	if err := apply(p, Policy{AllowedImages: []string{"docker.io/library/busybox:*"}}); err != nil {
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
		{"/var", "it holds the host system directory /var/lib/docker", Policy{Trusted: true}},
		{"/var/lib", "it holds the host system directory /var/lib/docker", Policy{Trusted: true}},
		{"/var/lib/", "it holds the host system directory /var/lib/docker", Policy{Trusted: true}},
		{"/run", "it holds the host system directory /run/containerd", Policy{Trusted: true}},
		{"/var/cache", "", Policy{Trusted: true}},
		{link, "the host's root", Policy{Trusted: true}},
		{"/srv/cache", "", Policy{Trusted: true}},
		{"/var/run/docker.sock", "", Policy{Trusted: true, AllowedHostPaths: []string{"/var/run/docker.sock"}}},
		{"/srv/other", "outside the runner configuration's allowed_host_paths (/srv/cache)", Policy{Trusted: true, AllowedHostPaths: []string{"/srv/cache"}}},
		{"/srv/cache/sub", "", Policy{Trusted: true, AllowedHostPaths: []string{"/srv/cache"}}},
		{"/srv/cache", "forbids host paths (forbid_host_access)", Policy{Trusted: true, ForbidHostAccess: true}},
	} {
		j := gitlabJob("j", "true")
		j.Steps[0].Volumes = []pipeline.Volume{{Source: tc.src, Target: "/x"}}
		err := apply(pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), tc.pol)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %+v: %v", tc.src, tc.pol, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %+v: error %v, want %q", tc.src, tc.pol, err, tc.want)
		}
	}
}

// A job with no image, or one whose name does not resolve, cannot run;
// exec refuses it before anything starts, lint plans it with a warning,
// and --default-image gives it one.
func TestPrepareJobWithoutImage(t *testing.T) {
	pipe := func() *pipeline.Pipeline {
		j := gitlabJob("noimg", "true")
		j.Pos = pipeline.Pos{File: "t.yml", Line: 4, Column: 1}
		j.Steps[0].Image = pipeline.Image{}
		k := gitlabJob("var", "true")
		k.Steps[0].Image = pipeline.Image{Name: "$NOPE:1", Pos: pipeline.Pos{File: "t.yml", Line: 9, Column: 10}}
		return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j, k}})
	}
	_, _, err := Prepare(pipe(), config.Runner{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "t.yml:4:1: job noimg has no image, and no default image is set: give --default-image IMAGE") ||
		!strings.Contains(err.Error(), `t.yml:9:10: image $NOPE:1 expands to ":1"`) {
		t.Errorf("exec: %v", err)
	}
	pl, warns, err := Prepare(pipe(), config.Runner{}, Options{Lint: true})
	if err != nil || len(warns) != 2 || len(pl.Jobs()) != 2 {
		t.Errorf("lint: err %v warnings %v", err, warns)
	}
	pl, _, err = Prepare(pipe(), config.Runner{}, Options{DefaultImage: "debian:bookworm", Lint: true})
	if err != nil || pl.Jobs()[0].Steps[0].Image.Ref != "docker.io/library/debian:bookworm" {
		t.Errorf("--default-image: err %v, image %+v", err, pl.Jobs()[0].Steps[0].Image)
	}
}

// The plan says when a job does not simply follow the stages before it.
func TestPrintMarksManualAllowFailureAndNeeds(t *testing.T) {
	a, b, c := gitlabJob("a", "true"), gitlabJob("b", "true"), gitlabJob("c", "true")
	a.When, a.AllowFailure = pipeline.Manual, true
	b.DAG, b.Needs = true, []string{"x", "y"}
	c.DAG = true
	pl, _, err := Prepare(pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{a, b, c}}), config.Runner{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	pl.Print(&out)
	for _, want := range []string{
		"job a (workspace /builds/g/p) [manual: runs only when named; allow_failure]\n",
		"job b (workspace /builds/g/p) [needs: x, y]\n",
		"job c (workspace /builds/g/p) [needs: none: starts at once]\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}

// The plan shows what a job keeps and whose artifacts it gets.
func TestPrintArtifacts(t *testing.T) {
	a, b, c := gitlabJob("a", "true"), gitlabJob("b", "true"), gitlabJob("c", "true")
	a.Artifacts = &pipeline.Artifacts{Paths: []string{"bin/"}, Exclude: []string{"bin/*.tmp"}, When: pipeline.Always}
	b.Artifacts = &pipeline.Artifacts{Untracked: true}
	c.ArtifactsFrom = []string{"a", "b", "nothing-kept"}
	pl, _, err := Prepare(pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{a, b}}, pipeline.Stage{Name: "t", Jobs: []*pipeline.Job{c}}), config.Runner{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	pl.Print(&out)
	for _, want := range []string{
		"    artifacts (always): bin/, except bin/*.tmp\n",
		"    artifacts (on_success): (untracked files)\n",
		"    gets the artifacts of a, b\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}
