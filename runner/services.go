package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
)

// probeInterval is how often a service's ports are tried. Short, because
// every millisecond here is on the critical path of the job.
const probeInterval = 25 * time.Millisecond

// stateEvery is how often a service that does not answer yet is
// inspected, to notice one that exited.
const stateEvery = 250 * time.Millisecond

// logTail is how many lines of a failed service's log are shown.
const logTail = 20

// startServices starts every service at once, then waits for all of them
// to listen, in parallel: the job waits for the slowest, not the sum.
func (jb *job) startServices(ctx context.Context) error {
	svcs := jb.j.Services
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = jb.startService(ctx, i, svc)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jb.waitService(ctx, i, svc)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func serviceName(svc *pipeline.Service) string { return "svc-" + svc.Name }

// serviceContainer is the engine's view of a service.
func (r *run) serviceContainer(svc *pipeline.Service, workspace string) (*engine.Container, error) {
	env, err := r.env(svc.Env)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	c := &engine.Container{
		Name:       serviceName(svc),
		Image:      svc.Image.Ref,
		Entrypoint: svc.Entrypoint,
		Cmd:        svc.Command,
		Env:        env,
		Aliases:    svc.Aliases,
		Privileged: svc.Privileged.Value,
		Mounts:     mountsOf(svc.Volumes),
	}
	withHost(c, &svc.Container)
	if len(svc.Commands) > 0 {
		// As Drone: the commands under sh -e, in the workspace.
		script := scriptFor(&pipeline.Step{Container: svc.Container, Commands: svc.Commands, Shell: pipeline.ShellDrone})
		c.Entrypoint, c.Cmd, c.WorkingDir = []string{"/bin/sh", "-c"}, []string{string(script)}, workspace
	}
	return c, nil
}

func (jb *job) startService(ctx context.Context, i int, svc *pipeline.Service) error {
	c := jb.spec.Services[i]
	if err := jb.eng.StartService(ctx, jb.spec, c); err != nil {
		return fmt.Errorf("service %s: %w", svc.Name, err)
	}
	if jb.r.ServiceLogs {
		go jb.followLogs(ctx, serviceName(svc), svc.Name)
	}
	return nil
}

// followLogs shows the output of a service (--service-logs) or a detached
// step, each line prefixed with its name, until the container is removed.
func (jb *job) followLogs(ctx context.Context, container, name string) {
	w := jb.r.masker.Writer(serviceWriter{events: jb.r.events, job: jb.j.Name, service: name})
	defer w.Close()
	_ = jb.eng.Logs(context.WithoutCancel(ctx), jb.spec, container, -1, true, w)
}

// waitService polls the service's ports until they accept connections or
// the timeout passes; it never fails the job (as GitLab: warn, go on).
func (jb *job) waitService(ctx context.Context, i int, svc *pipeline.Service) {
	ports, err := jb.servicePorts(ctx, svc)
	if err != nil || len(ports) == 0 {
		return // nothing to wait for: a service without ports
	}
	timeout := jb.r.ServiceTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if reason := jb.probe(wctx, svc, ports); reason != "" && ctx.Err() == nil {
		jb.warnService(ctx, svc, "probably didn't start properly", reason)
	}
}

// probe returns "" once every port answers, or why it gave up.
func (jb *job) probe(ctx context.Context, svc *pipeline.Service, ports []int) string {
	name := serviceName(svc)
	pending := ports
	var checked time.Time // the first refusal inspects at once
	for {
		var still []int
		for _, p := range pending {
			conn, err := jb.eng.Dial(ctx, jb.spec, name, p)
			if err != nil {
				still = append(still, p)
				continue
			}
			_ = conn.Close()
		}
		if pending = still; len(pending) == 0 {
			return ""
		}
		// Whether it died is asked every stateEvery: an inspect costs the
		// engine more than a refused connection costs anyone.
		if time.Since(checked) >= stateEvery {
			checked = time.Now()
			if st, err := jb.eng.Inspect(ctx, jb.spec, name); err == nil && !st.Running {
				return fmt.Sprintf("the container exited with code %d", st.ExitCode)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("port %s did not accept connections within %s", joinInts(pending), jb.r.ServiceTimeout)
		case <-time.After(probeInterval):
		}
	}
}

// watchEvery is how often the services of a running job are inspected:
// a service that dies mid-job is reported within it.
const watchEvery = 500 * time.Millisecond

// watchServices reports, while the steps run, each service that stops
// (killed, out of memory, crashed), once, with its last log lines. The
// job goes on, as GitLab and Drone let it. stop ends the watch.
func (jb *job) watchServices(ctx context.Context) (stop func()) {
	if len(jb.j.Services) == 0 {
		return func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-wctx.Done():
				return
			case <-time.After(watchEvery):
			}
			for _, svc := range jb.j.Services {
				jb.checkService(wctx, svc)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// checkService reports svc if it is no longer running.
func (jb *job) checkService(ctx context.Context, svc *pipeline.Service) {
	if jb.wasWarned(svc) {
		return
	}
	st, err := jb.eng.Inspect(ctx, jb.spec, serviceName(svc))
	if err != nil || st.Running || ctx.Err() != nil {
		return
	}
	reason := fmt.Sprintf("The container exited with code %d", st.ExitCode)
	if st.OOM {
		reason += " (out of memory)"
	}
	jb.warnService(ctx, svc, "stopped while the job ran", reason+".")
}

func (jb *job) wasWarned(svc *pipeline.Service) bool {
	jb.mu.Lock()
	defer jb.mu.Unlock()
	return jb.warned[svc.Name]
}

// warnService reports a service that is not running as it should, with
// the last lines of its log; GitLab's own wording for one that did not
// start is kept, so that searches for it find slipway's.
func (jb *job) warnService(ctx context.Context, svc *pipeline.Service, headline, reason string) {
	jb.mu.Lock()
	if jb.warned == nil {
		jb.warned = map[string]bool{}
	}
	jb.warned[svc.Name] = true
	jb.mu.Unlock()
	var logs bytes.Buffer
	_ = jb.eng.Logs(context.WithoutCancel(ctx), jb.spec, serviceName(svc), logTail, false, &logs)
	msg := fmt.Sprintf("*** WARNING: Service %s %s\n\n%s\n", svc.Name, headline+".", reason)
	if logs.Len() > 0 {
		msg += fmt.Sprintf("\nLast lines of its log:\n%s", indent(logs.String()))
	}
	jb.r.events.ServiceWarning(jb.j.Name, svc.Name, jb.r.masker.String(msg))
}

// servicePorts are the image's exposed TCP ports plus HEALTHCHECK_TCP_PORT.
func (jb *job) servicePorts(ctx context.Context, svc *pipeline.Service) ([]int, error) {
	info, err := jb.eng.ImageInfo(ctx, svc.Image.Ref)
	if err != nil {
		return nil, err
	}
	ports := info.ExposedTCPPorts
	for _, v := range svc.Env {
		if v.Name == "HEALTHCHECK_TCP_PORT" {
			if p, err := strconv.Atoi(v.Value); err == nil {
				ports = append(ports, p)
			}
		}
	}
	return ports, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}
