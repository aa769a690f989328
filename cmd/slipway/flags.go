package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/agent"
	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
	"github.com/slipway-ci/slipway/secret"
	"github.com/slipway-ci/slipway/vcs"
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
	tag        string
	source     string
	defImage   string
	includeDir string
	lint       bool // lint: what only a run needs is a warning
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
	f.StringVar(&o.branch, "branch", "", "branch the pipeline runs for: Drone's when:/trigger:, GitLab's rules and CI_COMMIT_BRANCH (default: the workspace's checked-out git branch)")
	f.StringVar(&o.tag, "tag", "", "the tag the pipeline runs for: a GitLab tag pipeline (CI_COMMIT_TAG) instead of a branch pipeline; a Drone tag build (DRONE_TAG; event tag unless --event says otherwise)")
	f.StringVar(&o.defImage, "default-image", "", "image of the jobs that name none (default: [runners.docker] image from --config)")
	f.StringVar(&o.includeDir, "include-dir", "", "where GitLab's include: project/remote/template files are read: DIR/<project>/<file>, DIR/<host>/<path>, DIR/templates/<name>")
	f.StringVar(&o.source, "pipeline-source", "push", "GitLab's CI_PIPELINE_SOURCE (push, merge_request_event, schedule, web, api, trigger)")
	f.StringVar(&o.event, "event", "push", "event Drone's when:/trigger: conditions see (push, pull_request, tag, promote, cron, custom)")
}

// droneContext is what Drone's conditions are matched against: a push of
// the workspace's current branch unless the flags say otherwise.
func (o *options) droneContext(ws, project string) drone.Context {
	branch := o.branch
	if branch == "" {
		branch = gitBranch(ws)
	}
	// The local Docker Engine runs linux containers of the machine's
	// architecture: pipelines for others are skipped, as no Drone runner
	// of this machine would take them.
	host, _ := os.Hostname()
	ctx := drone.Context{Branch: branch, Event: o.event, Repo: project, Tag: o.tag,
		OS: "linux", Arch: runtime.GOARCH, Hostname: host, Started: time.Now()}
	// The commit's facts, when the workspace is a git checkout; without
	// one, Drone's commit variables are left unset rather than made up.
	if git := vcs.Read(ws); git.Git {
		ctx.Commit, ctx.Before, ctx.Message = git.SHA, git.BeforeSHA, git.Message
		ctx.Author, ctx.AuthorName, ctx.AuthorEmail = git.AuthorName, git.AuthorName, git.AuthorEmail
		ctx.DefaultBranch = git.DefaultBranch
	}
	if o.tag != "" && o.event == "push" {
		ctx.Event, ctx.Ref = "tag", "refs/tags/"+o.tag
		return ctx
	}
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

// loaded is a prepared plan with what is needed to run it.
type loaded struct {
	plan      *plan.Plan
	cfg       *config.Config
	workspace string
	masker    *secret.Masker // the --secret values
}

// load parses the file and prepares it with the configuration and the
// flags; every error here is the user's input, exit status 2.
func (o *options) load(jobs []string) (*loaded, error) {
	secrets, err := parseSecrets(o.secrets)
	if err != nil {
		return nil, invalid(err)
	}
	// Everything this command prints is masked, lint's plan and the
	// errors included: a file may quote a value given with --secret.
	m := secret.NewMasker(secrets)
	l, err := o.loadWith(jobs, secrets, m)
	if err != nil {
		return nil, invalid(errors.New(m.String(err.Error())))
	}
	l.masker = m
	return l, nil
}

func (o *options) loadWith(jobs []string, secrets map[string]string, m *secret.Masker) (*loaded, error) {
	file, err := o.pipelineFile()
	if err != nil {
		return nil, err
	}
	ws, err := o.workspaceDir(file)
	if err != nil {
		return nil, err
	}
	project := o.project
	if project == "" {
		project = dialect.ProjectPath(ws)
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return nil, err
	}
	for _, k := range cfg.Unknown() {
		fmt.Fprintf(os.Stderr, "warning: %s: key %s is not used by slipway\n", o.config, k)
	}
	opts := dialect.Options{ProjectPath: project}
	if dialect.IsDrone(file) {
		opts.Drone = o.droneContext(ws, project)
	} else {
		incDir, err := o.includeDirAbs()
		if err != nil {
			return nil, err
		}
		opts.GitLab = gitlab.Options{IncludeDir: incDir, Git: vcs.Read(ws), Branch: o.branch, Tag: o.tag, PipelineSource: o.source, Workspace: ws,
			Env: o.env, BaseEnv: cfg.Runner().Environment, Registry: cfg.Runner().Registry, Runner: agent.CIRunner(cfg.Runner())}
	}
	p, warns, err := dialect.Load(file, opts)
	printWarnings(m, warns)
	if err != nil {
		return nil, err
	}
	if err := p.Select(jobs); err != nil {
		return nil, err
	}
	pl, warns, err := plan.Prepare(p, cfg.Runner(), plan.Options{
		ConfigPath: o.config, Trusted: o.trusted, Env: o.env, Secrets: secrets, DefaultImage: o.defImage, Lint: o.lint})
	printWarnings(m, warns)
	if err != nil {
		return nil, err
	}
	return &loaded{plan: pl, workspace: ws, cfg: cfg}, nil
}

func printWarnings(m *secret.Masker, warns []*pipeline.Warning) {
	for _, w := range warns {
		fmt.Fprintln(os.Stderr, m.String("warning: "+w.Error()))
	}
}

func (o *options) pipelineFile() (string, error) {
	if o.file != "" {
		return o.file, nil
	}
	return dialect.Find(".")
}

// workspaceDir is --workspace, else the pipeline file's directory.
func (o *options) workspaceDir(file string) (string, error) {
	ws := o.workspace
	if ws == "" {
		ws = filepath.Dir(file)
	}
	ws, err := filepath.Abs(ws)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(ws); err != nil || !st.IsDir() {
		return "", fmt.Errorf("workspace %s is not a directory", ws)
	}
	return ws, nil
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

// includeDirAbs is --include-dir made absolute, checked to be a directory.
func (o *options) includeDirAbs() (string, error) {
	if o.includeDir == "" {
		return "", nil
	}
	dir, err := filepath.Abs(o.includeDir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("--include-dir %s is not a directory", o.includeDir)
	}
	return dir, nil
}
