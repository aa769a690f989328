// Package pipeline holds the format-independent model of a CI pipeline.
//
// Dialects (dialect/gitlab, dialect/drone) turn YAML into a Pipeline; the
// runner executes it on an engine. The model is plain data: no YAML types,
// no Docker types. Every value a user wrote carries the Pos it came from so
// that later checks (trust, allow-lists) can point at file:line:column.
package pipeline

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Dialect names the file format a pipeline was read from.
type Dialect string

const (
	GitLab Dialect = "gitlab"
	Drone  Dialect = "drone"
)

// Pipeline is a whole pipeline file: stages run in order, the jobs of a
// stage may run concurrently, a failed stage stops the later ones.
type Pipeline struct {
	File    string  `json:"file"`
	Dialect Dialect `json:"dialect"`
	Stages  []Stage `json:"stages"`
}

// Stage is a group of jobs that run after the previous stage passed.
type Stage struct {
	Name string `json:"name"`
	Jobs []*Job `json:"jobs"`
}

// NetworkMode says how a job's containers reach each other.
type NetworkMode string

const (
	// NetworkPerJob: one network per job; services answer by DNS aliases
	// (GitLab).
	NetworkPerJob NetworkMode = "per-job"
	// NetworkSharedLocalhost: services and steps share one network
	// namespace, so services answer on 127.0.0.1 (Drone). Service names
	// resolve to that namespace too.
	NetworkSharedLocalhost NetworkMode = "shared-localhost"
)

// Job is the unit that gets its own sandbox (network, workspace volume,
// services). A GitLab job is a Job; a Drone pipeline document is a Job.
type Job struct {
	Name    string      `json:"name"`
	Pos     Pos         `json:"pos"`
	Network NetworkMode `json:"network"`
	// Workspace is the path in the containers where the checkout is copied;
	// it is also the working directory of every step.
	Workspace string `json:"workspace"`
	// WorkspaceBase, when set, is where the workspace volume is mounted:
	// Workspace or a directory above it, shared by the steps (Drone's
	// workspace base, a GOPATH say).
	WorkspaceBase string `json:"workspace_base,omitempty"`
	// NoCheckout: the workspace starts empty (Drone's clone: disable).
	NoCheckout bool `json:"no_checkout,omitempty"`
	// ExitEarly, when not 0, is the exit code with which a step ends the
	// job early and successfully, the later steps skipped (Drone's 78).
	ExitEarly int `json:"exit_early,omitempty"`
	// Steps run in order; a failing step stops the ones after it, except
	// steps marked Always.
	Steps    []*Step    `json:"steps"`
	Services []*Service `json:"services,omitempty"`
	// Variables are the job's own variables (GitLab: global and job
	// variables:), which every service of the job receives; the steps
	// have them in their Env already.
	Variables []EnvVar `json:"variables,omitempty"`
	// Timeout bounds the whole job; zero means the runner's default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// PullSecrets names secrets holding Docker config.json documents used
	// to pull this job's images (Drone image_pull_secrets).
	PullSecrets []string `json:"pull_secrets,omitempty"`
	// Target is the engine the job asks for.
	Target Target `json:"target,omitempty"`
	// AllowFailure: the job's failure is reported but does not fail the
	// pipeline (GitLab allow_failure).
	AllowFailure bool `json:"allow_failure,omitempty"`
	// When says after what the job runs: GitLab's when:, Drone's
	// trigger: status.
	When When `json:"when,omitempty"`
	// DAG is set when the job waits only for the jobs in Needs (GitLab
	// needs:; none for needs: []) rather than for every job of the
	// stages before: the runner starts it as soon as those have
	// finished. A need is always in an earlier stage or earlier in the
	// same one.
	DAG   bool     `json:"dag,omitempty"`
	Needs []string `json:"needs,omitempty"`
	// Tags choose the runners that may take the job (GitLab tags:).
	Tags []string `json:"tags,omitempty"`
	// Artifacts are the files of the workspace kept after the job
	// (GitLab artifacts:); nil for none.
	Artifacts *Artifacts `json:"artifacts,omitempty"`
	// ArtifactsFrom names the jobs whose artifacts are copied into the
	// workspace before the steps (GitLab dependencies: and needs:).
	ArtifactsFrom []string `json:"artifacts_from,omitempty"`
	// Caches are restored into the workspace before the steps and saved
	// after them, kept between runs of the same project (GitLab cache:).
	Caches []*Cache `json:"caches,omitempty"`
	// TrustedVolumes are volumes a Drone pipeline declares that its
	// linter allows only in a trusted run, whether or not a container
	// mounts them: host paths no container mounts (the mounted ones are
	// checked where they are mounted) and temp volumes in memory. Pos is
	// the declaration; nothing is mounted from here.
	TrustedVolumes []Volume `json:"trusted_volumes,omitempty"`
}

// Artifacts say which files of a job's workspace are kept after it, as
// slash-separated globs relative to the workspace (** for any depth).
type Artifacts struct {
	Name    string   `json:"name,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// Untracked: also every file that was not in the checkout.
	Untracked bool `json:"untracked,omitempty"`
	// When: OnSuccess, OnFailure or Always, after what the job did.
	When     When   `json:"when,omitempty"`
	ExpireIn string `json:"expire_in,omitempty"`
	// Expire is ExpireIn read: how long the artifacts are kept; zero
	// for ever.
	Expire time.Duration `json:"expire,omitempty"`
	// Reports are GitLab's artifacts: reports:, kept whatever the job's
	// outcome.
	Reports []Report `json:"reports,omitempty"`
}

// Report is one kind of report a job leaves (junit, dotenv...): globs of
// workspace files.
type Report struct {
	Type  string   `json:"type"`
	Paths []string `json:"paths"`
}

// Target names the kind of engine a job runs on.
type Target string

const (
	// TargetDocker: a Docker Engine (the default).
	TargetDocker Target = "docker"
	// TargetKubernetes: one pod on a Kubernetes cluster.
	TargetKubernetes Target = "kubernetes"
)

// ParseTarget reads a target as the files and the runner configuration
// spell it; "" is Docker.
func ParseTarget(s string) (Target, bool) {
	switch Target(s) {
	case "", TargetDocker:
		return TargetDocker, true
	case TargetKubernetes:
		return TargetKubernetes, true
	}
	return "", false
}

// When says what must have happened before a job or step for it to run.
type When string

const (
	// OnSuccess (the default): everything before passed.
	OnSuccess When = ""
	// OnFailure: something before failed.
	OnFailure When = "on_failure"
	// Always: whatever happened before.
	Always When = "always"
	// Manual: only when the job is named on the command line (GitLab).
	Manual When = "manual"
)

// Runs reports whether a job or step with w runs when something before it
// has (failed) or has not failed. Manual jobs never run by themselves.
func (w When) Runs(failed bool) bool {
	switch w {
	case Always:
		return true
	case OnFailure:
		return failed
	case Manual:
		return false
	}
	return !failed
}

// Shell says how a step's Commands become a script.
type Shell string

const (
	// ShellGitLab: commands fed on stdin to bash if the image has it, else
	// sh; each command echoed as "$ cmd"; the first failure stops it.
	ShellGitLab Shell = "gitlab"
	// ShellDrone: commands run by sh with set -e, each echoed as "+ cmd".
	ShellDrone Shell = "drone"
)

// Container is what a step and a service have in common: one container
// of a job, from an image, with its environment and what it may ask of the
// host.
type Container struct {
	Name  string `json:"name"`
	Pos   Pos    `json:"pos"`
	Image Image  `json:"image"`
	// Entrypoint overrides the image's: nil keeps it, an empty non-nil
	// slice clears it (GitLab's entrypoint: [""]).
	Entrypoint []string `json:"entrypoint"`
	Command    []string `json:"command,omitempty"`
	Env        []EnvVar `json:"env,omitempty"`
	Volumes    []Volume `json:"volumes,omitempty"`
	Privileged Setting  `json:"privileged,omitempty"`
	Host       Host     `json:"host,omitzero"`
	// User runs the container as this user (name or uid[:gid]) instead
	// of the image's; WorkingDir replaces the job's workspace as its
	// working directory.
	User       string `json:"user,omitempty"`
	WorkingDir string `json:"working_dir,omitempty"`
}

// Step is one container run to completion.
type Step struct {
	Container
	// Commands are shell commands; when empty the container runs its
	// entrypoint and command (a Drone plugin-style step).
	Commands []string `json:"commands,omitempty"`
	Shell    Shell    `json:"shell,omitempty"`
	// Always steps run whatever happened before them and never change the
	// job's status (GitLab after_script).
	Always bool `json:"always,omitempty"`
	// IgnoreFailure: a failure is reported but does not fail the job.
	IgnoreFailure bool `json:"ignore_failure,omitempty"`
	// When says after what the step runs (Drone's when: status); unlike
	// an Always step, its own failure fails the job.
	When When `json:"when,omitempty"`
	// Detach: the step is started in the background, reachable by its
	// name like a service, and the job goes on; it is stopped at the end
	// (Drone's detach: true).
	Detach bool `json:"detach,omitempty"`
	// PrivilegedPlugin: Drone runs this step privileged on its own, a
	// Docker-in-Docker plugin (plugins/docker, ...) used as a plugin. The
	// plan decides whether it may be.
	PrivilegedPlugin bool `json:"privileged_plugin,omitempty"`
}

// Service is a container started before a job's steps and removed after.
type Service struct {
	Container
	// Aliases are the host names the service answers to.
	Aliases []string `json:"aliases,omitempty"`
	// Commands, when set, are run by sh -e in the job's workspace instead
	// of the image's command (Drone's service commands).
	Commands []string `json:"commands,omitempty"`
}

// Host holds the other settings that reach the host, besides host volumes
// and privileged (Drone's devices, cap_add, network_mode: host). Like
// those, a file may use them only in a trusted run.
type Host struct {
	// Devices map host device files into the container; Source is the
	// host path, Target the path inside, ReadOnly the "r" permission.
	Devices []Volume `json:"devices,omitempty"`
	// CapAdd are Linux capabilities added to the default set.
	CapAdd []Capability `json:"cap_add,omitempty"`
	// Network, when set, puts the container in the host's network
	// namespace (network_mode: host).
	Network *Setting `json:"network_host,omitempty"`
	// DNS servers and search domains replace the engine's; ExtraHosts
	// are "name:ip" lines added to /etc/hosts (Drone's dns, dns_search,
	// extra_hosts, which its linter allows only trusted repositories).
	DNS        []HostValue `json:"dns,omitempty"`
	DNSSearch  []HostValue `json:"dns_search,omitempty"`
	ExtraHosts []HostValue `json:"extra_hosts,omitempty"`
	// UnknownDevices name no volume of the pipeline (Drone 1.x devices:
	// [{name}]): Drone's runner skips them, and its linter refuses them
	// with every device in an untrusted run. The engine never sees them;
	// Source is the name.
	UnknownDevices []Volume `json:"unknown_devices,omitempty"`
}

// HostValue is one value of a host setting, where it was set.
type HostValue struct {
	Value string `json:"value"`
	Pos   Pos    `json:"pos"`
}

// With is h plus the settings of more (the runner configuration's).
func (h Host) With(more Host) Host {
	h.Devices = append(h.Devices[:len(h.Devices):len(h.Devices)], more.Devices...)
	h.CapAdd = append(h.CapAdd[:len(h.CapAdd):len(h.CapAdd)], more.CapAdd...)
	if h.Network == nil {
		h.Network = more.Network
	}
	return h
}

// ParseDevice reads a device as docker run --device takes it:
// "/dev/host[:/dev/container[:perms]]", perms a non-empty subset of rwm;
// without w the device is ReadOnly.
func ParseDevice(spec string) (Volume, bool) {
	parts := strings.Split(spec, ":")
	dev := Volume{Source: parts[0], Target: parts[0]}
	ok := len(parts) <= 3 && path.IsAbs(dev.Source)
	if ok && len(parts) >= 2 {
		dev.Target = parts[1]
		ok = path.IsAbs(dev.Target)
	}
	if ok && len(parts) == 3 {
		perms := parts[2]
		ok = perms != "" && strings.Trim(perms, "rwm") == ""
		dev.ReadOnly = !strings.Contains(perms, "w")
	}
	dev.Source, dev.Target = path.Clean(dev.Source), path.Clean(dev.Target)
	return dev, ok
}

// Capability is one Linux capability name (NET_ADMIN), where it was set.
type Capability struct {
	Name string `json:"name"`
	Pos  Pos    `json:"pos"`
}

// Image is an image reference as written plus how to pull it.
type Image struct {
	// Name is the reference as the user wrote it.
	Name string `json:"name"`
	// Ref is the normalised reference (docker.io/library/golang:latest);
	// empty when Name contains variables ($CI_REGISTRY_IMAGE:tag): the
	// runner expands and parses it before anything starts.
	Ref string `json:"ref"`
	// Pull lists the policies the file asked for, tried in order when a
	// pull fails (GitLab's pull_policy list); empty means the default,
	// which the runner applies.
	Pull []PullPolicy `json:"pull,omitempty"`
	// Auth is inline registry credentials (Drone 0.x auth_config). It is
	// never printed: see Credentials.String.
	Auth *Credentials `json:"auth,omitempty"`
	Pos  Pos          `json:"pos"`
}

// PullPolicy decides when an image is pulled.
type PullPolicy string

const (
	PullAlways      PullPolicy = "always"
	PullIfNotExists PullPolicy = "if-not-exists"
	PullNever       PullPolicy = "never"
)

// Credentials are a username and password for one registry (Drone 0.x
// auth_config). Name says which they are, for people and for the wire
// form: JSON carries only the name, and Document carries the values in a
// field of their own (see wire.go).
type Credentials struct {
	Name     string `json:"name"`
	Username string `json:"-"`
	Password string `json:"-"`
	Email    string `json:"-"`
}

// String never reveals the secret parts.
func (c *Credentials) String() string { return "<credentials " + c.Name + ">" }

// EnvVar is one environment variable; FromSecret names a secret whose value
// is used instead of Value.
type EnvVar struct {
	Name       string `json:"name"`
	Value      string `json:"value,omitempty"`
	FromSecret string `json:"from_secret,omitempty"`
	// File: the variable holds the path of a file with the value
	// (GitLab's file variables and secrets), written by the step's script.
	File bool `json:"file,omitempty"`
}

// Volume is a host path (or named volume) mounted into a container.
type Volume struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// Tmpfs: a memory-backed volume of the container alone (Drone's temp
	// volumes with medium: memory); Source is the volume's name.
	Tmpfs bool `json:"tmpfs,omitempty"`
	Pos   Pos  `json:"pos"`
}

// Setting is a boolean that reaches the host, with where it was set.
type Setting struct {
	Value bool `json:"value"`
	Pos   Pos  `json:"pos"`
}

// Pos is a place in a pipeline file. File is kept in JSON so that a job
// document read back on another machine still names where each value came
// from.
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is a problem in a pipeline file, at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf makes an Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Warning is a non-fatal remark about a pipeline file (an unknown key).
type Warning = Error

// Jobs lists every job in stage order.
func (p *Pipeline) Jobs() []*Job {
	var out []*Job
	for _, s := range p.Stages {
		out = append(out, s.Jobs...)
	}
	return out
}
