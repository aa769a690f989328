package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/runner"
	"github.com/slipway-ci/slipway/secret"
)

// options are the flags shared by exec and lint.
type options struct {
	file       string
	env        []string
	secrets    []string
	trusted    bool
	config     string
	workspace  string
	project    string
	kubeconfig string
	branch     string
	event      string
}

func (o *options) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "pipeline file (default: .gitlab-ci.yml or .drone.yml in the current directory)")
	f.StringArrayVar(&o.env, "env", nil, "NAME=VALUE added to every job and service (repeatable)")
	f.StringArrayVar(&o.secrets, "secret", nil, "NAME=VALUE or NAME=@file, a secret the pipeline may use (repeatable)")
	f.BoolVar(&o.trusted, "trusted", false, "allow settings that reach the host: volumes, privileged, devices, cap_add, network_mode: host")
	f.StringVar(&o.config, "config", "", "runner configuration (TOML, gitlab-runner's config.toml shape)")
	f.StringVar(&o.workspace, "workspace", "", "directory copied into the jobs (default: the pipeline file's directory)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for Kubernetes jobs (default: [runners.kubernetes] kubeconfig, in-cluster, $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&o.project, "project", "", "GitLab project path group/project under /builds (default: from the workspace directory)")
	f.StringVar(&o.branch, "branch", "", "branch Drone's when:/trigger: conditions see (default: the workspace's checked-out git branch)")
	f.StringVar(&o.event, "event", "push", "event Drone's when:/trigger: conditions see (push, pull_request, tag, promote, cron, custom)")
}

// droneContext is what Drone's conditions are matched against: a push of
// the workspace's current branch unless the flags say otherwise.
func (o *options) droneContext(ws, project string) drone.Context {
	branch := o.branch
	if branch == "" {
		branch = gitBranch(ws)
	}
	ctx := drone.Context{Branch: branch, Event: o.event, Repo: project}
	if branch != "" {
		ctx.Ref = "refs/heads/" + branch
	}
	return ctx
}

// gitBranch reads the branch checked out in dir from .git/HEAD ("" when
// dir is no git checkout or HEAD is detached).
func gitBranch(dir string) string {
	head, err := os.ReadFile(filepath.Join(dir, ".git", "HEAD"))
	if err != nil {
		return ""
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/")
	if !ok {
		return ""
	}
	return ref
}

// loaded is a parsed, prepared pipeline with what is needed to run it.
type loaded struct {
	pipeline  *pipeline.Pipeline
	cfg       *config.Config
	workspace string
	secrets   map[string]string
	env       []pipeline.EnvVar
	baseEnv   []pipeline.EnvVar
}

// load parses the file and applies configuration and flags; every error
// here is the user's input, exit status 2.
func (o *options) load(jobs []string) (*loaded, error) {
	file, err := o.pipelineFile()
	if err != nil {
		return nil, invalid(err)
	}
	ws := o.workspace
	if ws == "" {
		ws = filepath.Dir(file)
	}
	if ws, err = filepath.Abs(ws); err != nil {
		return nil, invalid(err)
	}
	if st, err := os.Stat(ws); err != nil || !st.IsDir() {
		return nil, invalid(fmt.Errorf("workspace %s is not a directory", ws))
	}
	project := o.project
	if project == "" {
		project = dialect.ProjectPath(ws)
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return nil, invalid(err)
	}
	for _, k := range cfg.Unknown() {
		fmt.Fprintf(os.Stderr, "warning: %s: key %s is not used by slipway\n", o.config, k)
	}
	p, warns, err := dialect.Load(file, dialect.Options{
		ProjectPath: project, GitLab: gitlabOptions(o.config, cfg), Drone: o.droneContext(ws, project),
	})
	for _, w := range warns {
		fmt.Fprintln(os.Stderr, "warning: "+w.Error())
	}
	if err != nil {
		return nil, invalid(err)
	}
	if err := p.Select(jobs); err != nil {
		return nil, invalid(err)
	}
	if err := cfg.Runner().Validate(); err != nil {
		return nil, invalid(fmt.Errorf("%s: %v", o.config, err))
	}
	if cfg.Runner().Executor == "kubernetes" && p.Dialect == pipeline.GitLab {
		// The executor, not the file, says where GitLab jobs run.
		for _, j := range p.Jobs() {
			j.Target = "kubernetes"
		}
	}
	l := &loaded{pipeline: p, workspace: ws, cfg: cfg}
	if err := o.prepare(l); err != nil {
		return nil, invalid(err)
	}
	return l, nil
}

func (o *options) pipelineFile() (string, error) {
	if o.file != "" {
		return o.file, nil
	}
	return dialect.Find(".")
}

// prepare reads the configuration, the --env and --secret flags, and
// applies them with the runner's checks.
func (o *options) prepare(l *loaded) error {
	var err error
	// As gitlab-runner, [[runners]] environment goes into every job,
	// below the file's variables and --env. DOCKER_AUTH_CONFIG there is only for
	// pulling images, and is kept out of the containers.
	for _, kv := range l.cfg.Runner().Environment {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return fmt.Errorf("%s: environment entry %q: expected NAME=VALUE", o.config, kv)
		}
		if name != "DOCKER_AUTH_CONFIG" {
			l.baseEnv = append(l.baseEnv, pipeline.EnvVar{Name: name, Value: value})
		}
	}
	for _, kv := range o.env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return fmt.Errorf("--env %q: expected NAME=VALUE", kv)
		}
		l.env = append(l.env, pipeline.EnvVar{Name: name, Value: value})
	}
	if l.secrets, err = parseSecrets(o.secrets); err != nil {
		return err
	}
	d := l.cfg.Runner().Settings()
	pull, err := policies(d.PullPolicy, "pull_policy")
	if err != nil {
		return err
	}
	// As gitlab-runner: without allowed_pull_policies, a file may ask
	// only for what pull_policy lists (anything, when neither is set).
	allowedNames := d.AllowedPullPolicies
	if len(allowedNames) == 0 {
		allowedNames = d.PullPolicy
	}
	allowed, err := policies(allowedNames, "allowed_pull_policies")
	if err != nil {
		return err
	}
	return runner.Prepare(l.pipeline, runner.Policy{
		PullPolicy:          pull,
		AllowedPullPolicies: allowed,
		Trusted:             o.trusted,
		DefaultImage:        d.Image,
		AllowedImages:       d.AllowedImages,
		AllowedServices:     d.AllowedServices,
		Privileged:          d.Privileged,
		Volumes:             d.Volumes,
		CapAdd:              d.CapAdd,
		Devices:             d.Devices,
		ForbidHostAccess:    d.ForbidHostAccess,
		AllowedHostPaths:    d.AllowedHostPaths,
		Env:                 l.env,
		BaseEnv:             l.baseEnv,
		Secrets:             l.secrets,
	})
}

func parseSecrets(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		name, value, err := secret.Parse(a)
		if err != nil {
			return nil, err
		}
		out[name] = value
	}
	return out, nil
}

// policies parses a pull-policy list of the runner configuration.
func policies(names []string, key string) ([]pipeline.PullPolicy, error) {
	var out []pipeline.PullPolicy
	for _, n := range names {
		p, err := image.ParsePolicy(n)
		if err != nil {
			return nil, fmt.Errorf("runner configuration %s: %v", key, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// gitlabOptions passes the runner configuration's services to the GitLab
// dialect, which gives them aliases and variables like the file's own.
func gitlabOptions(path string, cfg *config.Config) gitlab.Options {
	o := gitlab.Options{RunnerFile: path}
	for _, s := range cfg.Runner().Settings().Services {
		o.RunnerServices = append(o.RunnerServices, gitlab.RunnerService{
			Name: s.Name, Alias: s.Alias, Entrypoint: s.Entrypoint, Command: s.Command})
	}
	return o
}
