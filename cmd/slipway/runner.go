package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/agent"
	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/runner"
)

// defaultConfig is ~/.slipway/config.toml.
func defaultConfig() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "config.toml"
	}
	return filepath.Join(home, ".slipway", "config.toml")
}

func registerCmd() *cobra.Command {
	var r agent.Registration
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register with a server and add the runner to the configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r.Executor = strings.TrimSpace(r.Executor)
			if _, err := agent.Register(cmd.Context(), &agent.Client{URL: r.URL}, r); err != nil {
				return invalid(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Runner registered; configuration saved to %s\n", r.ConfigPath)
			return nil
		},
	}
	host, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&r.URL, "url", "", "the server's URL")
	f.StringVar(&r.Token, "token", "", "runner authentication token (glrt-…)")
	f.StringVar(&r.RegistrationToken, "registration-token", "", "legacy registration token")
	f.StringVar(&r.Name, "name", host, "the runner's name")
	f.StringVar(&r.Executor, "executor", "docker", "docker or kubernetes")
	f.StringVar(&r.DockerImage, "docker-image", "", "image of jobs that name none")
	f.StringArrayVar(&r.DockerServices, "docker-services", nil, "a service added to every GitLab job (repeatable)")
	f.StringSliceVar(&r.Tags, "tag-list", nil, "the runner's tags, a,b (registration token only)")
	f.BoolVar(&r.RunUntagged, "run-untagged", false, "also take jobs without tags (registration token only)")
	f.StringVar(&r.ConfigPath, "config", defaultConfig(), "the configuration file")
	return cmd
}

func runnerRunCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Take jobs from the servers of the configuration's [[runners]] and run them",
		Long: "Ask each [[runners]] entry's server for jobs and run up to `concurrent` at once.\n" +
			"SIGTERM or Ctrl-C: take no more jobs, finish the running ones, exit; Ctrl-C again: cancel them and report.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cfgPath) },
	}
	cmd.Flags().StringVar(&cfgPath, "config", defaultConfig(), "the configuration file")
	return cmd
}

func runAgent(cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return invalid(fmt.Errorf("%s does not exist: register a runner first (slipway runner register --url URL --token glrt-...)", cfgPath))
	}
	if err != nil {
		return invalid(err)
	}
	for _, k := range cfg.Unknown() {
		fmt.Fprintf(os.Stderr, "warning: %s: key %s is not used by slipway\n", cfgPath, k)
	}
	sysID, err := agent.SystemID(cfgPath)
	if err != nil {
		return invalid(err)
	}
	t, kcfg := agentTargets(cfg)
	es, err := openEngines(context.Background(), t, kcfg, "")
	if err != nil {
		return err
	}
	defer es.close()
	// The jobs of a commit share one checkout (agent/checkouts.go): with
	// templates, the later ones copy nothing.
	es.useTemplates(true)
	// A runner killed outright left its jobs' objects: remove them.
	es.collect(context.Background())
	poll, stopPolling := context.WithCancel(context.Background())
	jobs, cancelJobs := context.WithCancel(context.Background())
	kill := make(chan struct{})
	stopSignals := onAgentSignals(stopPolling, cancelJobs, kill)
	defer stopSignals()
	a := &agent.Agent{Config: cfg, ConfigPath: cfgPath, Log: os.Stderr, SystemID: sysID,
		Runner: runner.Runner{Engine: es.main, Engines: es.byTarget, Owner: engine.Owner(),
			StopGrace: 10 * time.Second, Kill: kill}}
	fmt.Fprintf(os.Stderr, "slipway runner %s: taking up to %d job(s) at once\n", agent.Version, max(cfg.Concurrent, 1))
	if err := a.Run(poll, jobs); err != nil {
		return invalid(err)
	}
	if jobs.Err() != nil {
		return &exitError{code: exitCanceled, err: fmt.Errorf("running jobs were canceled")}
	}
	return nil
}

// agentTargets are the engines the entries' executors need, and the
// cluster of the first Kubernetes one.
func agentTargets(cfg *config.Config) (targets, config.Kubernetes) {
	var t targets
	var k config.Kubernetes
	for _, r := range cfg.Runners {
		if r.Executor == "kubernetes" {
			if !t.kube {
				k = r.Kubernetes
			}
			t.kube = true
		} else {
			t.docker = true
		}
	}
	return t, k
}

// onAgentSignals: the first signal stops taking jobs, the second cancels
// the running ones (after_script still runs), the third kills their steps
// at once.
func onAgentSignals(stopPolling, cancelJobs context.CancelFunc, kill chan struct{}) func() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		steps := []func(){
			func() {
				fmt.Fprintln(os.Stderr, "slipway runner: taking no more jobs, finishing the running ones (Ctrl-C again to cancel them)")
				stopPolling()
			},
			func() {
				fmt.Fprintln(os.Stderr, "slipway runner: canceling the running jobs (Ctrl-C again to kill them)")
				cancelJobs()
			},
			func() { fmt.Fprintln(os.Stderr, "slipway runner: killing"); close(kill) },
		}
		for _, step := range steps {
			select {
			case <-sig:
				step()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}
