package plan_test

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/plan"
)

// TestDroneLinterVolumes: what Drone's linter allows only trusted
// repositories is refused outside a trusted run, at its place, even when
// no container mounts it; a device naming an undeclared volume is refused
// with the others untrusted and skipped (with a warning) when trusted.
func TestDroneLinterVolumes(t *testing.T) {
	const file = `kind: pipeline
name: default
volumes:
- name: unused
  host: {path: /srv/cache}
- name: mem
  temp: {medium: memory}
steps:
- name: a
  image: busybox:1.35
  devices:
  - {name: gpu, path: /dev/gpu}
  commands: [true]
`
	prepare := func(trusted bool) (string, error) {
		p, warns, err := drone.Parse("t.yml", []byte(file), drone.Context{Branch: "main", Event: "push"})
		if err != nil {
			t.Fatal(err)
		}
		pl, more, err := plan.Prepare(p, config.Runner{}, plan.Options{Trusted: trusted})
		var b strings.Builder
		for _, w := range append(warns, more...) {
			b.WriteString(w.Error() + "\n")
		}
		if err == nil && len(pl.Jobs()[0].Steps[0].Host.Devices) > 0 {
			t.Error("an undeclared device reached the plan")
		}
		return b.String(), err
	}
	_, err := prepare(false)
	if err == nil {
		t.Fatal("untrusted: no error")
	}
	for _, want := range []string{
		"t.yml:4:3: volumes: the host volume /srv/cache, declared though no container mounts it, needs a trusted run (slipway exec --trusted), as Drone's linter says",
		"t.yml:6:3: volumes: the temp volume mem in memory (medium: memory) needs a trusted run",
		"t.yml:12:5: devices: the device of undeclared volume gpu needs a trusted run",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("untrusted: error lacks %q:\n%v", want, err)
		}
	}
	warns, err := prepare(true)
	if err != nil {
		t.Fatalf("trusted: %v", err)
	}
	if want := `t.yml:12:12: devices: volume "gpu" is not declared in the pipeline's volumes:; a trusted run skips this device, as Drone's runner does`; !strings.Contains(warns, want) {
		t.Errorf("trusted: warnings lack %q:\n%s", want, warns)
	}
}
