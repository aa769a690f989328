package gitlab

import (
	"slices"
	"strings"
	"testing"
)

// Default service aliases follow gitlab-runner's SplitNameAndVersion: the
// tag goes, a registry's :port goes, "/" becomes "__" and "-".
func TestDefaultAliasesDropPort(t *testing.T) {
	for img, want := range map[string][]string{
		"registry.example.com:5000/group/tutum/wordpress:tag": {"registry.example.com__group__tutum__wordpress", "registry.example.com-group-tutum-wordpress"},
		"registry.example.com:5000/postgres:15":               {"registry.example.com__postgres", "registry.example.com-postgres"},
		"tutum/wordpress:latest":                              {"tutum__wordpress", "tutum-wordpress"},
		"postgres:15":                                         {"postgres"},
		"localhost:5000/redis@sha256:" + sha:                  {"localhost__redis", "localhost-redis"},
	} {
		pl := mustParse(t, "x:\n  services: ["+img+"]\n  script: y\n", Options{})
		if got := pl.Jobs()[0].Services[0].Aliases; !slices.Equal(got, want) {
			t.Errorf("%s: aliases %q, want %q", img, got, want)
		}
	}
}

const sha = "0123456789012345678901234567890123456789012345678901234567890123"

// A rule's needs: replace the job's when that rule matches (GitLab 16).
func TestRuleNeeds(t *testing.T) {
	in := `stages: [a, b]
lint:
  stage: a
  script: x
unit:
  stage: a
  script: x
deploy:
  stage: b
  script: x
  needs: [lint, unit]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      needs: [unit]
    - if: $CI_COMMIT_BRANCH == "empty"
      needs: []
    - when: on_success
`
	for branch, want := range map[string][]string{"main": {"unit"}, "empty": nil, "dev": {"lint", "unit"}} {
		pl := mustParse(t, in, Options{Git: gitOn(branch)})
		var got []string
		for _, j := range pl.Jobs() {
			if j.Name == "deploy" {
				got = j.Needs
				if !j.DAG {
					t.Errorf("%s: deploy is not a DAG job", branch)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: deploy needs %q, want %q", branch, got, want)
		}
	}
}

// CI_RUNNER_* reach the job but not rules: (GitLab makes them job-only);
// CI_SERVER_* and CI_API_* are set.
func TestRunnerVariables(t *testing.T) {
	in := "x:\n  rules: [{if: $CI_RUNNER_ID, when: never}, {when: on_success}]\n  script: y\n"
	info := RunnerInfo{Description: "box", Tags: []string{"docker", "linux"}, Version: "v1.2.3", Revision: "abcdef12", Arch: "linux/arm64"}
	pl := mustParse(t, in, Options{Runner: info})
	if len(pl.Jobs()) != 1 {
		t.Fatalf("rules: saw CI_RUNNER_ID: %d jobs", len(pl.Jobs()))
	}
	env := pl.Jobs()[0].Steps[0].Env
	for name, want := range map[string]string{
		"CI_RUNNER_ID": "1", "CI_RUNNER_DESCRIPTION": "box", "CI_RUNNER_TAGS": "docker, linux",
		"CI_RUNNER_VERSION": "v1.2.3", "CI_RUNNER_REVISION": "abcdef12", "CI_RUNNER_EXECUTABLE_ARCH": "linux/arm64",
		"CI_SERVER_FQDN": "localhost", "CI_API_V4_URL": "http://localhost/api/v4", "CI_REGISTRY": "<unset>",
	} {
		if got := envOf(env, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	env = mustParse(t, "x:\n  script: y\n", Options{}).Jobs()[0].Steps[0].Env
	if envOf(env, "CI_RUNNER_DESCRIPTION") != "slipway" || envOf(env, "CI_RUNNER_TAGS") != "<unset>" {
		t.Errorf("defaults: %v", yamlEnvOnly(env, "CI_RUNNER_"))
	}
}

// Services of the runner configuration come first, as gitlab-runner lists
// them, and their host names are theirs: a file's service that names the
// same loses it, with a warning.
func TestRunnerServicesClaimHostNamesFirst(t *testing.T) {
	pl := mustParse(t, "x:\n  services: [{name: 'redis:7.0', alias: 'cache redis'}, postgres:15]\n  script: y\n", Options{})
	warns, err := AddRunnerServices(pl, []RunnerService{{Name: "redis:6"}}, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	svcs := pl.Jobs()[0].Services
	var got []string
	for _, s := range svcs {
		got = append(got, s.Name+"="+strings.Join(s.Aliases, ","))
	}
	if want := []string{"redis=redis", "cache=cache", "postgres=postgres"}; !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), `service cache loses the host names the configuration's services have: "redis" (service redis)`) {
		t.Errorf("warnings %v", warns)
	}
}
