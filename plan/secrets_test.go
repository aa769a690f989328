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
