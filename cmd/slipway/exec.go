package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/runner"
)

func execCmd() *cobra.Command {
	var o options
	var concurrency int
	var serviceLogs bool
	var artifacts string
	var copyWorkspace bool
	cmd := &cobra.Command{
		Use:   "exec [job...]",
		Short: "Run a pipeline now on the local Docker Engine",
		Long: "Run the jobs of a .gitlab-ci.yml or .drone.yml on the local Docker Engine, stage by stage.\n" +
			"Exit status: 0 all jobs passed, 1 a job failed, 2 invalid input or no engine, 130 canceled.",
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := o.load(args)
			if err != nil {
				return err
			}
			return run(l, &o, concurrency, serviceLogs, artifacts, !copyWorkspace)
		},
	}
	o.register(cmd)
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "jobs run at once (default: concurrent from --config, else 1)")
	cmd.Flags().BoolVar(&serviceLogs, "service-logs", false, "show the services' output too")
	cmd.Flags().BoolVar(&copyWorkspace, "copy-workspace", false, "copy the checkout into every job, instead of once into a cached template that each job mounts an overlay of")
	cmd.Flags().StringVar(&artifacts, "artifacts-dir", "", "keep jobs' artifacts in DIR/<run>/<job> (default: .slipway/artifacts beside the pipeline file)")
	return cmd
}

// run executes the loaded pipeline, handling Ctrl-C: the first signal
// cancels (steps get a grace period), the second kills at once; either
// way everything the run created is removed.
func run(l *loaded, o *options, concurrency int, serviceLogs bool, artifacts string, templates bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kill := make(chan struct{})
	stopSignals := onSignals(cancel, kill)
	defer stopSignals()
	es, err := openEngines(ctx, planTargets(l.plan), l.cfg.Runner().Kubernetes, o.kubeconfig)
	if err != nil {
		return err
	}
	defer es.close()
	es.useTemplates(templates)
	// What killed runs left is removed beside this run, not before it:
	// the lists are on no job's way (Collect never touches a live run).
	collected := make(chan struct{})
	go func() { es.collect(ctx); close(collected) }()
	defer func() { <-collected }()
	r := newRunner(l, es, concurrency, serviceLogs, kill)
	// A closed stdout (`slipway exec | head -1`) ends the run as Ctrl-C
	// does: nobody is reading any more.
	out := &dropOnError{w: os.Stdout, onFail: func() {
		fmt.Fprintln(os.Stderr, "slipway: standard output was closed; canceling")
		cancel()
	}}
	id := newRunID()
	if artifacts == "" {
		artifacts = filepath.Join(filepath.Dir(l.plan.File), ".slipway", "artifacts")
	}
	res := r.Run(ctx, l.plan, runner.Options{ID: id, Workspace: l.workspace, Events: runner.NewPrinter(out),
		Artifacts: filepath.Join(artifacts, id)})
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitCanceled, err: fmt.Errorf("run canceled")}
	case res.Failed():
		return &exitError{code: exitFailed}
	}
	return nil
}

func newRunner(l *loaded, es *engines, concurrency int, serviceLogs bool, kill chan struct{}) *runner.Runner {
	d := l.cfg.Runner().Settings()
	if concurrency <= 0 {
		concurrency = max(l.cfg.Concurrent, 1)
	}
	return &runner.Runner{
		Engine:         es.main,
		Engines:        es.byTarget,
		Owner:          engine.Owner(),
		Concurrency:    concurrency,
		ServiceTimeout: d.ServiceTimeout(),
		StopGrace:      10 * time.Second,
		ServiceLogs:    serviceLogs,
		Terminal:       isTerminal(os.Stdout),
		Kill:           kill,
	}
}

// endSignals are the signals that can be caught and by default end the
// process: a closed terminal (SIGHUP), kill's default and the others. Each
// leads to the cleanup Ctrl-C does instead.
var endSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGALRM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGVTALRM,
	syscall.SIGXCPU, syscall.SIGXFSZ}

// onSignals cancels on the first of endSignals and closes kill on the
// second.
//
// SIGPIPE is caught and dropped, not taken as a request to stop: once it
// is caught, a write to any broken pipe or connection fails with EPIPE
// instead of killing the process, and such writes happen in normal
// operation (an engine's stream the other side closed). A closed stdout,
// the one that means "stop", is noticed by the write that fails (see
// dropOnError).
func onSignals(cancel context.CancelFunc, kill chan struct{}) func() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, endSignals...)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-pipes:
			case <-done:
				return
			}
		}
	}()
	go func() {
		select {
		case <-sig:
			fmt.Fprintln(os.Stderr, "slipway: canceling (Ctrl-C again to kill at once)")
			cancel()
		case <-done:
			return
		}
		select {
		case <-sig:
			fmt.Fprintln(os.Stderr, "slipway: killing")
			close(kill)
		case <-done:
		}
	}()
	return func() { signal.Stop(sig); signal.Stop(pipes); close(done) }
}

// dropOnError passes writes on until one fails (the reader of a pipe went
// away) and then drops them all, reporting success: a run that can no
// longer print must still stop its steps and remove what it made, and
// must not block a step's output stream on the way.
type dropOnError struct {
	w      io.Writer
	onFail func() // called once, at the first failed write
	failed atomic.Bool
}

func (d *dropOnError) Write(p []byte) (int, error) {
	if !d.failed.Load() {
		if _, err := d.w.Write(p); err != nil && !d.failed.Swap(true) && d.onFail != nil {
			d.onFail()
		}
	}
	return len(p), nil
}

func newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// isTerminal is true for a character device (a terminal), not a file or
// a pipe.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
