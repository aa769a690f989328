// Package config reads the runner configuration: a TOML file in the shape
// of gitlab-runner's config.toml ([[runners]] with [runners.docker]), so
// that a user's existing settings carry over.
package config

import (
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole file.
type Config struct {
	Concurrent int `toml:"concurrent"`
	// CheckInterval is how long `slipway runner run` waits between asks
	// for a job that a server answered at once with none (seconds,
	// default 3), as gitlab-runner.
	CheckInterval int      `toml:"check_interval"`
	Runners       []Runner `toml:"runners"`

	unknown []string
}

// Unknown lists keys of the file that slipway does not read.
func (c *Config) Unknown() []string { return c.unknown }

// Runner is one [[runners]] entry; slipway uses the first.
type Runner struct {
	Name string `toml:"name"`
	// ID is the runner's id on its server (CI_RUNNER_ID), written by
	// `slipway runner register` as gitlab-runner writes it; 0: unknown.
	ID int64 `toml:"id"`
	// URL and Token are where `slipway runner run` asks for jobs and the
	// runner's authentication token there (written by `slipway runner
	// register`); exec ignores them.
	URL   string `toml:"url"`
	Token string `toml:"token"`
	// Executor is "docker" (default) or "kubernetes": where GitLab jobs
	// run. Drone pipelines say it themselves (type: kubernetes).
	Executor    string     `toml:"executor"`
	Environment []string   `toml:"environment"`
	Docker      Docker     `toml:"docker"`
	Kubernetes  Kubernetes `toml:"kubernetes"`
	// Tags are the runner's tags (gitlab-runner's tag_list): it takes a
	// GitLab job whose tags are all among them. RunUntagged says whether
	// it also takes jobs without tags; unset, it does when it has no tags,
	// as gitlab-runner. With no tags at all, slipway takes any job except
	// those whose tags name another platform (macOS, Windows, another
	// CPU architecture).
	Tags        []string `toml:"tags"`
	RunUntagged *bool    `toml:"run_untagged"`
	// Registry is the container registry GitLab jobs see as CI_REGISTRY
	// (CI_REGISTRY_IMAGE is it with the project's path); GitLab's
	// server says it, so it is slipway's key, unset by default.
	Registry string `toml:"registry"`
}

// Kubernetes is [runners.kubernetes], gitlab-runner's key names where it
// has them; kubeconfig and context are slipway's.
type Kubernetes struct {
	Kubeconfig       string            `toml:"kubeconfig"`
	Context          string            `toml:"context"`
	Namespace        string            `toml:"namespace"`
	CPURequest       string            `toml:"cpu_request"`
	MemoryRequest    string            `toml:"memory_request"`
	CPULimit         string            `toml:"cpu_limit"`
	MemoryLimit      string            `toml:"memory_limit"`
	NodeSelector     map[string]string `toml:"node_selector"`
	ServiceAccount   string            `toml:"service_account"`
	ImagePullSecrets []string          `toml:"image_pull_secrets"`
	HelperImage      string            `toml:"helper_image"`
	PollTimeout      int               `toml:"poll_timeout"` // seconds

	EphemeralStorageRequest string `toml:"ephemeral_storage_request"`
	EphemeralStorageLimit   string `toml:"ephemeral_storage_limit"`

	// The keys gitlab-runner's Kubernetes executor shares with the Docker
	// one; see Runner.Settings.
	Image               string     `toml:"image"`
	Services            []Service  `toml:"services"`
	PullPolicy          StringList `toml:"pull_policy"`
	AllowedPullPolicies StringList `toml:"allowed_pull_policies"`
	AllowedImages       []string   `toml:"allowed_images"`
	AllowedServices     []string   `toml:"allowed_services"`
	Privileged          *bool      `toml:"privileged"`
	CapAdd              []string   `toml:"cap_add"`
}

// Validate refuses an executor slipway does not have.
func (r Runner) Validate() error {
	switch r.Executor {
	case "", "docker", "kubernetes":
		return nil
	}
	return fmt.Errorf("executor %q is not supported (use \"docker\" or \"kubernetes\")", r.Executor)
}

// Docker is [runners.docker].
type Docker struct {
	Image                  string     `toml:"image"`
	Services               []Service  `toml:"services"`
	PullPolicy             StringList `toml:"pull_policy"`
	AllowedPullPolicies    StringList `toml:"allowed_pull_policies"`
	AllowedImages          []string   `toml:"allowed_images"`
	AllowedServices        []string   `toml:"allowed_services"`
	WaitForServicesTimeout int        `toml:"wait_for_services_timeout"`
	// Privileged, Volumes ("/path" for a volume of the job,
	// "/host:/container[:ro]"), CapAdd and Devices
	// ("/dev/host[:/dev/container[:rwm]]") apply to every container: the
	// machine's administrator wrote them, so they need no --trusted.
	Privileged bool     `toml:"privileged"`
	Volumes    []string `toml:"volumes"`
	CapAdd     []string `toml:"cap_add"`
	Devices    []string `toml:"devices"`
	// ForbidHostAccess refuses what a file asks of the host (host
	// volumes, privileged, devices, cap_add, network_mode) even in a
	// trusted run; AllowedHostPaths, when set, are the only host paths a
	// trusted file may mount.
	ForbidHostAccess bool     `toml:"forbid_host_access"`
	AllowedHostPaths []string `toml:"allowed_host_paths"`
	// PrivilegedImages are images (glob patterns, as allowed_images) that
	// run privileged where Drone runs them so on its own (plugins/docker
	// used as a plugin), in untrusted runs too.
	PrivilegedImages []string `toml:"privileged_images"`
}

// Service is an entry of services: a string or a table with name/alias.
type Service struct {
	Name       string   `toml:"name"`
	Alias      string   `toml:"alias"`
	Entrypoint []string `toml:"entrypoint"`
	Command    []string `toml:"command"`
}

// UnmarshalTOML accepts "redis:7" as well as {name = "redis:7"}.
func (s *Service) UnmarshalTOML(v any) error {
	switch t := v.(type) {
	case string:
		s.Name = t
		return nil
	case map[string]any:
		s.Name, _ = t["name"].(string)
		s.Alias, _ = t["alias"].(string)
		s.Entrypoint = strings_(t["entrypoint"])
		s.Command = strings_(t["command"])
		return nil
	}
	return fmt.Errorf("a service must be a string or a table with name, got %T", v)
}

func strings_(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// StringList accepts a string or a list of strings (pull_policy).
type StringList []string

// UnmarshalTOML implements toml.Unmarshaler.
func (l *StringList) UnmarshalTOML(v any) error {
	switch t := v.(type) {
	case string:
		*l = StringList{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("expected a list of strings, got an element of type %T", x)
			}
			*l = append(*l, s)
		}
	default:
		return fmt.Errorf("expected a string or a list of strings, got %T", v)
	}
	return nil
}

// Load reads path; "" gives the defaults. Errors name file and line.
func Load(path string) (*Config, error) {
	c := &Config{}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		// Unknown keys are tolerated (gitlab-runner has many slipway does
		// not use) but must not silently hide a typo: the caller warns.
		c.unknown = make([]string, len(undec))
		for i, k := range undec {
			c.unknown[i] = k.String()
		}
	}
	return c, nil
}

// Runner returns the first [[runners]] entry, or an empty one.
func (c *Config) Runner() Runner {
	if len(c.Runners) == 0 {
		return Runner{}
	}
	return c.Runners[0]
}

// Settings are the executor's settings in [runners.docker]'s shape. With
// executor = "kubernetes", the keys gitlab-runner also has in
// [runners.kubernetes] (image, services, pull_policy,
// allowed_pull_policies, allowed_images, allowed_services, privileged,
// cap_add) are taken from there where set, else from [runners.docker].
func (r Runner) Settings() Docker {
	d := r.Docker
	if r.Executor != "kubernetes" {
		return d
	}
	k := r.Kubernetes
	setIf(&d.Image, k.Image, k.Image != "")
	setIf(&d.Services, k.Services, k.Services != nil)
	setIf(&d.PullPolicy, k.PullPolicy, k.PullPolicy != nil)
	setIf(&d.AllowedPullPolicies, k.AllowedPullPolicies, k.AllowedPullPolicies != nil)
	setIf(&d.AllowedImages, k.AllowedImages, k.AllowedImages != nil)
	setIf(&d.AllowedServices, k.AllowedServices, k.AllowedServices != nil)
	setIf(&d.CapAdd, k.CapAdd, k.CapAdd != nil)
	if k.Privileged != nil {
		d.Privileged = *k.Privileged
	}
	return d
}

// setIf sets *dst to v when the key was set.
func setIf[T any](dst *T, v T, set bool) {
	if set {
		*dst = v
	}
}

// ServiceTimeout is wait_for_services_timeout, default 30 s.
func (d Docker) ServiceTimeout() time.Duration {
	if d.WaitForServicesTimeout <= 0 {
		return 30 * time.Second
	}
	return time.Duration(d.WaitForServicesTimeout) * time.Second
}
