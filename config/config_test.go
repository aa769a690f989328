package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, text string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadDockerSection(t *testing.T) {
	c := load(t, `concurrent = 3
[[runners]]
  environment = ["A=1", "DOCKER_AUTH_CONFIG={}"]
  [runners.docker]
    image = "busybox:1.35"
    services = ["redis:7.0", {name = "postgres:15", alias = "db"}]
    pull_policy = "if-not-present"
    privileged = true
    volumes = ["/cache"]
    cap_add = ["NET_ADMIN"]
    devices = ["/dev/fuse"]
    forbid_host_access = true
    allowed_host_paths = ["/srv/*"]
    privileged_images = ["plugins/docker"]
    wait_for_services_timeout = 5
    shm_size = 0
`)
	d := c.Runner().Docker
	want := Docker{
		Image:                  "busybox:1.35",
		Services:               []Service{{Name: "redis:7.0"}, {Name: "postgres:15", Alias: "db"}},
		PullPolicy:             StringList{"if-not-present"},
		WaitForServicesTimeout: 5,
		Privileged:             true,
		Volumes:                []string{"/cache"},
		CapAdd:                 []string{"NET_ADMIN"},
		Devices:                []string{"/dev/fuse"},
		ForbidHostAccess:       true,
		AllowedHostPaths:       []string{"/srv/*"},
		PrivilegedImages:       []string{"plugins/docker"},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("docker section\n got %+v\nwant %+v", d, want)
	}
	if c.Concurrent != 3 || d.ServiceTimeout() != 5*time.Second {
		t.Errorf("concurrent %d, timeout %s", c.Concurrent, d.ServiceTimeout())
	}
	if env := c.Runner().Environment; !slices.Contains(env, "DOCKER_AUTH_CONFIG={}") {
		t.Errorf("environment %q lacks DOCKER_AUTH_CONFIG={}", env)
	}
	if u := c.Unknown(); len(u) != 1 || u[0] != "runners.docker.shm_size" {
		t.Errorf("unknown keys %v", u)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(path, []byte("[[runners]]\n  [runners.docker]\n    pull_policy = 3\n"), 0o644)
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v", err)
	}
	if (Runner{Executor: "shell"}).Validate() == nil {
		t.Error("executor shell accepted")
	}
}

func TestSettingsOfTheKubernetesExecutor(t *testing.T) {
	text := `[[runners]]
  executor = "%s"
  [runners.docker]
    image = "busybox:1.35"
    pull_policy = "if-not-present"
    allowed_images = ["busybox:*"]
    privileged = true
  [runners.kubernetes]
    pull_policy = ["always"]
    allowed_pull_policies = ["always"]
    privileged = false
    cap_add = ["NET_ADMIN"]
    ephemeral_storage_request = "1Gi"
`
	k := load(t, fmt.Sprintf(text, "kubernetes")).Runner()
	s := k.Settings()
	if s.Image != "busybox:1.35" || !reflect.DeepEqual(s.PullPolicy, StringList{"always"}) ||
		!reflect.DeepEqual(s.AllowedPullPolicies, StringList{"always"}) || !reflect.DeepEqual(s.AllowedImages, []string{"busybox:*"}) ||
		s.Privileged || !reflect.DeepEqual(s.CapAdd, []string{"NET_ADMIN"}) || k.Kubernetes.EphemeralStorageRequest != "1Gi" {
		t.Errorf("kubernetes settings %+v", s)
	}
	d := load(t, fmt.Sprintf(text, "docker")).Runner().Settings()
	if !reflect.DeepEqual(d.PullPolicy, StringList{"if-not-present"}) || !d.Privileged || d.CapAdd != nil {
		t.Errorf("docker settings %+v", d)
	}
}

// A registered runner's entries carry the server's URL and token; keys
// gitlab-runner writes beside them are unknown, not errors.
func TestLoadRunnerEntries(t *testing.T) {
	c := load(t, `concurrent = 2
check_interval = 1
[[runners]]
  name = "a"
  url = "http://ci.example.com"
  token = "glrt-a"
  token_obtained_at = 2024-01-01T00:00:00Z
[[runners]]
  name = "b"
  url = "http://ci2.example.com"
  token = "glrt-b"
  executor = "kubernetes"
`)
	if c.CheckInterval != 1 || len(c.Runners) != 2 {
		t.Fatalf("config %+v", c)
	}
	if r := c.Runners[1]; r.URL != "http://ci2.example.com" || r.Token != "glrt-b" || r.Executor != "kubernetes" {
		t.Errorf("second entry %+v", r)
	}
	if u := c.Unknown(); len(u) != 1 || u[0] != "runners.token_obtained_at" {
		t.Errorf("unknown keys %v", u)
	}
}
