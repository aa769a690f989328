package plan

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/pipeline"
)

// secretJob is a Drone pipeline whose step needs secret "token" and whose
// images need the pull secret "registry".
func secretJob() *pipeline.Pipeline {
	j := gitlabJob("j", "true")
	j.Pos = pipeline.Pos{File: ".drone.yml", Line: 1, Column: 1}
	j.PullSecrets = []string{"registry"}
	j.Steps[0].Env = []pipeline.EnvVar{{Name: "TOKEN", FromSecret: "token"}}
	return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})
}

func TestLintNeedsNoSecretValues(t *testing.T) {
	pl, warns, err := Prepare(secretJob(), config.Runner{}, Options{Lint: true, Secrets: map[string]string{"registry": "{}"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pl.MissingSecrets, ",") != "token" || pl.Secrets["registry"] != "{}" || pl.Secrets["token"] == "" {
		t.Errorf("missing %v, secrets %v", pl.MissingSecrets, pl.Secrets)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), `.drone.yml:1:1: script TOKEN needs secret "token", which was not given`) {
		t.Errorf("warnings: %v", warns)
	}
	var out strings.Builder
	pl.Print(&out)
	if !strings.Contains(out.String(), "secrets not given (placeholders here; exec needs them): token\n") {
		t.Errorf("plan:\n%s", out.String())
	}
}

func TestExecRefusesMissingSecrets(t *testing.T) {
	_, _, err := Prepare(secretJob(), config.Runner{}, Options{})
	want := []string{
		`.drone.yml:1:1: image_pull_secrets: secret "registry" was not given (use --secret registry=@config.json)`,
		`TOKEN needs secret "token", which was not given (use --secret token=VALUE)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got %v\nwant %s", err, strings.Join(want, "\n"))
	}
}

// TestPrivilegedPlugins: plugins/docker used as a plugin runs privileged
// as on Drone when the configuration lists it or the run is trusted, with
// a note; otherwise it is refused with the reason.
func TestPrivilegedPlugins(t *testing.T) {
	build := func() (*pipeline.Pipeline, *pipeline.Step) {
		j := gitlabJob("j")
		j.Steps[0].Image = pipeline.Image{Name: "plugins/docker", Ref: "docker.io/plugins/docker:latest", Pos: pipeline.Pos{File: ".drone.yml", Line: 4, Column: 10}}
		j.Steps[0].Name, j.Steps[0].PrivilegedPlugin = "publish", true
		return pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}), j.Steps[0]
	}
	p, st := build()
	_, _, err := Prepare(p, config.Runner{}, Options{})
	want := ".drone.yml:4:10: step publish: Drone runs plugins/docker privileged (Docker in Docker); here that needs a trusted run (slipway exec --trusted) or the image in the runner configuration's privileged_images"
	if err == nil || err.Error() != want || st.Privileged.Value {
		t.Errorf("untrusted: %v", err)
	}
	p, st = build()
	_, warns, err := Prepare(p, config.Runner{}, Options{Trusted: true})
	if err != nil || !st.Privileged.Value || len(warns) != 1 || !strings.Contains(warns[0].Error(), "step publish runs privileged, as Drone runs plugins/docker (Docker in Docker), in this trusted run") {
		t.Errorf("trusted: %v %v %v", err, st.Privileged, warns)
	}
	p, st = build()
	r := config.Runner{Docker: config.Docker{PrivilegedImages: []string{"plugins/*"}, ForbidHostAccess: true}}
	_, warns, err = Prepare(p, r, Options{})
	if err != nil || !st.Privileged.Value || len(warns) != 1 || !strings.Contains(warns[0].Error(), "privileged_images lists it") {
		t.Errorf("listed: %v %v %v", err, st.Privileged, warns)
	}
}
