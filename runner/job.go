package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// cleanupTimeout bounds Destroy, which runs even after a second Ctrl-C.
const cleanupTimeout = 2 * time.Minute

// job is the state of one running job.
type job struct {
	r    *run
	eng  engine.Engine // the engine the job's target selects
	j    *plan.Job
	spec *engine.Spec
	// stdout and stderr are the job's output streams, each masked apart,
	// as events.
	stdout, stderr io.WriteCloser
	// setUp: Setup succeeded, so the job's workspace volume exists.
	setUp bool
	// warned are the services already reported as not running.
	mu     sync.Mutex
	warned map[string]bool
	// caches are the job's caches, keys decided; cacheDirs the host
	// copies of those restored.
	caches    []jobCache
	cacheDirs []string
}

// runJob runs one job in its own sandbox and always destroys the sandbox.
func (r *run) runJob(ctx context.Context, key string, j *plan.Job, concurrent bool) JobResult {
	start := time.Now()
	jb := &job{r: r, j: j, spec: r.spec(key, j), eng: r.engineFor(j)}
	jb.stdout = r.masker.Writer(eventWriter{events: r.events, job: j.Name})
	jb.stderr = r.masker.Writer(eventWriter{events: r.events, job: j.Name})
	r.events.JobStarted(JobStart{Name: j.Name, Images: r.masker.String(describeImages(j)), Concurrent: concurrent})
	if j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Timeout)
		defer cancel()
	}
	jb.spec.Inputs = append(jb.restoreCaches(ctx), r.inputs(j)...)
	defer jb.dropCaches()
	err := jb.run(ctx)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if jb.setUp && (ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		// A cancelled run keeps nothing; a timed-out job is a failure.
		jb.collect(cctx, err != nil)
		jb.saveCaches(cctx, err != nil)
	}
	if derr := jb.eng.Destroy(cctx, jb.spec); derr != nil {
		r.say(j.Name, "Job %q: cleanup failed: %v", j.Name, derr)
	}
	// The masker holds back at most the longest secret's length; the
	// job's last bytes come before its status.
	_ = jb.stdout.Close()
	_ = jb.stderr.Close()
	res := JobResult{Name: j.Name, Duration: time.Since(start), Status: Passed}
	r.classify(ctx, j, err, &res)
	res.Reason = r.masker.String(res.Reason)
	r.events.JobFinished(res)
	return res
}

// classify turns the job's error into its status and a reason.
func (r *run) classify(ctx context.Context, j *plan.Job, err error, res *JobResult) {
	switch {
	case err == nil:
		return
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status, res.Reason = Failed, fmt.Sprintf("timed out after %s", j.Timeout)
	case ctx.Err() != nil:
		res.Status, res.Reason = Canceled, "canceled"
	default:
		res.Status, res.Reason = Failed, err.Error()
		var ee *exitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.code
		}
	}
	if res.Status == Failed && j.AllowFailure {
		res.Status = Allowed
	}
}

func (r *run) spec(key string, j *plan.Job) *engine.Spec {
	s := &engine.Spec{
		RunID: r.id, Key: key, Owner: r.Owner,
		WorkspaceDir: r.workspace, WorkspacePath: j.Workspace,
	}
	if j.WorkspaceBase != "" {
		sub, _ := strings.CutPrefix(j.Workspace, j.WorkspaceBase)
		s.WorkspacePath, s.WorkspaceSub = j.WorkspaceBase, strings.Trim(sub, "/")
	}
	if j.NoCheckout {
		s.WorkspaceDir = ""
	}
	detached := detachedNames(j)
	switch {
	case j.Network == pipeline.NetworkSharedLocalhost && len(j.Services)+len(detached) > 0:
		s.Network = engine.NetworkShared
		for _, svc := range j.Services {
			s.Aliases = append(s.Aliases, svc.Aliases...)
		}
		s.Aliases = append(s.Aliases, detached...)
	case len(j.Services) > 0:
		s.Network = engine.NetworkBridge
	}
	return s
}

// detachedNames are the names of the job's detached steps, which answer
// to them like services.
func detachedNames(j *plan.Job) []string {
	var out []string
	for _, st := range j.Steps {
		if st.Detach && validHostName.MatchString(st.Name) {
			out = append(out, st.Name)
		}
	}
	return out
}

// validHostName is a name Docker accepts as a network alias.
var validHostName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$`)

// run pulls, sets up, starts services, then runs the steps in order.
func (jb *job) run(ctx context.Context) error {
	if !selfPulling(jb.eng) {
		if err := jb.r.pullAll(ctx, jb.j); err != nil {
			return err
		}
	}
	if err := jb.checkPortClash(ctx); err != nil {
		return err
	}
	for _, svc := range jb.j.Services {
		c, err := jb.r.serviceContainer(svc, jb.j.Workspace)
		if err != nil {
			return err
		}
		if c.Pull, err = jb.pullSpec(ctx, svc.Image); err != nil {
			return err
		}
		jb.spec.Services = append(jb.spec.Services, c)
	}
	for i, st := range jb.j.Steps {
		c, err := jb.stepContainer(i, st)
		if err != nil {
			return err
		}
		if c.Pull, err = jb.pullSpec(ctx, st.Image); err != nil {
			return err
		}
		jb.spec.Steps = append(jb.spec.Steps, c)
	}
	if err := jb.eng.Setup(ctx, jb.spec); err != nil {
		return err
	}
	jb.setUp = true
	if err := jb.startServices(ctx); err != nil {
		return err
	}
	stop := jb.watchServices(ctx)
	defer stop()
	return jb.runSteps(ctx)
}

// runSteps runs every step; after a failure only Always steps (whose own
// failures never change the job's status) and steps that ask to run on
// failure run.
func (jb *job) runSteps(ctx context.Context) error {
	var failure error
	for i, st := range jb.j.Steps {
		if !st.Always && !st.When.Runs(failure != nil) {
			continue
		}
		sctx := ctx
		if st.Always {
			// GitLab runs after_script also when the job was cancelled or
			// timed out; only a second Ctrl-C stops it.
			var cancel context.CancelFunc
			sctx, cancel = jb.r.alwaysContext(ctx)
			defer cancel()
		}
		err := jb.runStep(sctx, jb.spec.Steps[i], st)
		switch {
		case errors.Is(err, errExitEarly):
			jb.r.say(jb.j.Name, "Job %q: step %s exited with code %d: the job ends here, successfully", jb.j.Name, st.Name, jb.j.ExitEarly)
			return failure
		case err == nil || st.Always:
			if err != nil {
				jb.r.say(jb.j.Name, "Job %q: %s failed (ignored): %v", jb.j.Name, st.Name, err)
			}
		case st.IgnoreFailure:
			jb.r.say(jb.j.Name, "Job %q: step %s failed (ignored): %v", jb.j.Name, st.Name, err)
		case failure == nil:
			failure = err
		default:
			jb.r.say(jb.j.Name, "Job %q: step %s failed too: %v", jb.j.Name, st.Name, err)
		}
	}
	if failure == nil {
		return ctx.Err()
	}
	return failure
}

// alwaysContext is the context of an Always step. When the job is
// already cancelled or timed out, GitLab still runs after_script: it gets
// a context of its own, which only a second Ctrl-C (Kill) or its own
// bound ends. Otherwise it shares the job's, so a Ctrl-C during
// after_script stops it like any step.
func (r *run) alwaysContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithCancel(ctx)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	if r.Kill != nil {
		go func() {
			select {
			case <-r.Kill:
				cancel()
			case <-actx.Done():
			}
		}()
	}
	return actx, cancel
}

// errExitEarly: a step exited with the job's ExitEarly code.
var errExitEarly = errors.New("the step ends the job early")

// runStep runs one step's container and turns its exit code into an
// error. A detached step is started in the background and left running.
func (jb *job) runStep(ctx context.Context, c *engine.Container, st *pipeline.Step) error {
	stop := jb.killOnSecondSignal(ctx, c.Name)
	defer stop()
	jb.r.events.StepStarted(jb.j.Name, st.Name)
	if st.Detach {
		if err := jb.eng.StartService(ctx, jb.spec, c); err != nil {
			return fmt.Errorf("%s: %w", st.Name, err)
		}
		// Drone shows a detached step's output, as it comes.
		go jb.followLogs(ctx, c.Name, st.Name)
		return nil
	}
	code, err := jb.eng.Run(ctx, jb.spec, c, jb.stdout, jb.stderr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if code != 0 && code == jb.j.ExitEarly {
		return errExitEarly
	}
	if code != 0 {
		return &exitError{step: st.Name, code: code}
	}
	return nil
}

// exitError is a step that exited with a code other than 0.
type exitError struct {
	step string
	code int
}

func (e *exitError) Error() string { return fmt.Sprintf("%s exited with code %d", e.step, e.code) }

// killOnSecondSignal kills the step at once if Kill closes while it runs.
func (jb *job) killOnSecondSignal(ctx context.Context, name string) func() {
	done := make(chan struct{})
	if jb.r.Kill != nil {
		go func() {
			select {
			case <-jb.r.Kill:
				_ = jb.eng.Kill(context.WithoutCancel(ctx), jb.spec, name)
			case <-done:
			}
		}()
	}
	return func() { close(done) }
}

func (jb *job) stepContainer(i int, st *pipeline.Step) (*engine.Container, error) {
	env, err := jb.r.env(st.Env)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", st.Name, err)
	}
	env = jb.r.withDotenv(jb.j, env)
	ep, cmd, stdin := command(st)
	c := &engine.Container{
		Name:       fmt.Sprintf("step-%d", i),
		Image:      st.Image.Ref,
		Entrypoint: ep,
		Cmd:        cmd,
		Stdin:      stdin,
		Env:        env,
		WorkingDir: jb.j.Workspace,
		Privileged: st.Privileged.Value,
		Mounts:     mountsOf(st.Volumes),
		StopGrace:  jb.r.StopGrace,
	}
	withHost(c, &st.Container)
	return c, nil
}

// env renders variables as NAME=value, resolving from_secret.
func (r *run) env(vars []pipeline.EnvVar) ([]string, error) {
	out := make([]string, 0, len(vars)+1)
	out = append(out, "CI=true")
	for _, v := range vars {
		val := v.Value
		if v.FromSecret != "" {
			s, ok := r.plan.Secrets[v.FromSecret]
			if !ok {
				return nil, fmt.Errorf("%s: secret %q is not set (give it with --secret %s=VALUE)", v.Name, v.FromSecret, v.FromSecret)
			}
			val = s
		}
		out = append(out, v.Name+"="+val)
	}
	return out, nil
}

func mountsOf(vols []pipeline.Volume) []engine.Mount {
	var out []engine.Mount
	for _, v := range vols {
		out = append(out, engine.Mount{Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly, Tmpfs: v.Tmpfs})
	}
	return out
}

// withHost copies the host settings a trusted file asked for (Prepare
// has already refused them for untrusted runs), and the user and working
// directory it set.
func withHost(c *engine.Container, pc *pipeline.Container) {
	h := pc.Host
	c.Devices = mountsOf(h.Devices)
	for _, cp := range h.CapAdd {
		c.CapAdd = append(c.CapAdd, cp.Name)
	}
	c.HostNetwork = h.Network != nil && h.Network.Value
	c.Resolver = engine.Resolver{DNS: values(h.DNS), DNSSearch: values(h.DNSSearch), ExtraHosts: values(h.ExtraHosts)}
	c.User = pc.User
	if pc.WorkingDir != "" {
		c.WorkingDir = pc.WorkingDir
	}
}

func values(vs []pipeline.HostValue) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Value)
	}
	return out
}

func describeImages(j *plan.Job) string {
	seen := map[string]bool{}
	var imgs []string
	for _, st := range j.Steps {
		if !seen[st.Image.Name] {
			seen[st.Image.Name] = true
			imgs = append(imgs, st.Image.Name)
		}
	}
	s := strings.Join(imgs, ", ")
	if len(j.Services) > 0 {
		var svcs []string
		for _, svc := range j.Services {
			svcs = append(svcs, svc.Name)
		}
		s += " with services " + strings.Join(svcs, ", ")
	}
	return s
}

// pullSpec is nil for engines the runner pulls for.
func (jb *job) pullSpec(ctx context.Context, img pipeline.Image) (*engine.Pull, error) {
	if !selfPulling(jb.eng) {
		return nil, nil
	}
	return jb.r.pullSpec(ctx, jb.j, img)
}

// engineFor picks the engine of a job's target: Kubernetes for Drone's
// type: kubernetes (when one is configured), Docker otherwise.
func (r *run) engineFor(j *plan.Job) engine.Engine {
	if e, ok := r.Engines[j.Target]; ok {
		return e
	}
	return r.Engine
}
