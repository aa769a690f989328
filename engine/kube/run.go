package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-ci/slipway/engine"
)

// logDrain bounds the wait for the rest of a step's output once it ended.
const logDrain = 15 * time.Second

// Run adds c to the job's pod as an ephemeral container, feeds its stdin
// through an attach session, streams its output from the pod's log, and
// returns its exit code from the pod's status. Cancelling ctx stops it
// (SIGTERM to its process, SIGKILL after StopGrace) before Run returns.
func (e *Engine) Run(ctx context.Context, s *engine.Spec, c *engine.Container, out, _ io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	j := e.job(s)
	if j == nil {
		return -1, fmt.Errorf("%s: the job has no pod (Setup did not succeed)", c.Name)
	}
	kn, err := j.startEphemeral(ctx, s, c)
	if err != nil {
		return -1, err
	}
	return j.follow(ctx, c, kn, out)
}

// startEphemeral adds c to the job's pod as an ephemeral container and
// waits until it runs; it returns the container's name in the pod.
func (j *job) startEphemeral(ctx context.Context, s *engine.Spec, c *engine.Container) (string, error) {
	// Once the container is added it will start whatever happens to ctx:
	// the calls from here on outlive ctx, and a cancel stops the step.
	api := context.WithoutCancel(ctx)
	kn := j.containerName(c.Name)
	ec, sec, err := j.stepParts(s, c, kn)
	if err != nil {
		return "", err
	}
	if _, err := j.e.core.Secrets(j.e.ns).Create(api, sec, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("%s: create secret %s for its variables: %w", c.Name, sec.Name, err)
	}
	fresh, err := j.addPullCred(api, c)
	if err != nil {
		return "", err
	}
	if err := j.addEphemeral(api, ec); err != nil {
		return "", fmt.Errorf("%s: add its container to pod %s: %w", c.Name, j.pod, err)
	}
	tolerate := 0
	if fresh {
		// The kubelet may read the pull secret from its cache a moment
		// before the credentials just added reach it: one failed pull is
		// retried (after the kubelet's back-off) before it counts.
		tolerate = 1
	}
	wctx, cancel := context.WithTimeout(ctx, j.e.cfg.PollTimeout)
	err = j.waitStarted(wctx, kn, tolerate)
	cancel()
	switch {
	case err == nil:
		return kn, nil
	case ctx.Err() != nil:
		j.stop(api, kn, c.StopGrace)
		return "", ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		p, _, _ := j.current()
		return "", fmt.Errorf("%s did not start within %s: %s", c.Name, j.e.cfg.PollTimeout, waitingFor(p))
	}
	return "", err
}

// follow streams a started step's output and feeds its stdin, then
// returns its exit code.
func (j *job) follow(ctx context.Context, c *engine.Container, kn string, out io.Writer) (int, error) {
	api := context.WithoutCancel(ctx)
	sctx, cancelStreams := context.WithCancel(api)
	defer cancelStreams()
	logsDone := make(chan error, 1)
	go func() { logsDone <- j.copyLogs(sctx, kn, out) }()
	attached := make(chan error, 1)
	if c.Stdin != nil {
		go func() { attached <- j.e.attach(sctx, j.pod, kn, bytes.NewReader(c.Stdin)) }()
	}
	ended := make(chan struct{})
	var code int
	var endErr error
	go func() {
		defer close(ended)
		endErr = j.until(sctx, func(p *corev1.Pod) (bool, error) {
			st := statusOf(p, kn)
			if st != nil && st.State.Terminated != nil {
				code = int(st.State.Terminated.ExitCode)
				return true, nil
			}
			if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				return false, fmt.Errorf("%s: the job's pod %s ended (%s): %s", c.Name, j.pod, p.Status.Phase, p.Status.Message)
			}
			return false, nil
		})
	}()
	var runErr error
	done := ctx.Done()
	for waiting := true; waiting; {
		select {
		case <-ended:
			waiting = false
		case <-done:
			done = nil
			j.stop(api, kn, c.StopGrace)
		case err := <-attached:
			attached = nil
			if err != nil && !j.terminated(kn) {
				// Without its script the step would wait on stdin forever.
				runErr = fmt.Errorf("%s: feed its script on stdin: %w", c.Name, err)
				j.stop(api, kn, 0)
			}
		}
	}
	if endErr != nil && runErr == nil {
		runErr = endErr
	}
	select {
	case <-logsDone:
	case <-time.After(logDrain):
		cancelStreams()
		<-logsDone
	}
	if runErr != nil {
		return -1, runErr
	}
	return code, ctx.Err()
}

// copyLogs streams a container's log to out until it ends.
func (j *job) copyLogs(ctx context.Context, kn string, out io.Writer) error {
	var err error
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		var rc io.ReadCloser
		rc, err = j.e.core.Pods(j.e.ns).GetLogs(j.pod, &corev1.PodLogOptions{Container: kn, Follow: true}).Stream(ctx)
		if err != nil {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		return err
	}
	return err
}

func (j *job) terminated(kn string) bool {
	p, _, _ := j.current()
	if p == nil {
		return false
	}
	st := statusOf(p, kn)
	return st != nil && st.State.Terminated != nil
}

// addPullCred adds a step's registry credentials to the job's pull
// secret (a pod's imagePullSecrets cannot change; the secret can). fresh
// is true when it had to change.
func (j *job) addPullCred(ctx context.Context, c *engine.Container) (fresh bool, err error) {
	creds := map[string]*engine.RegistryAuth{}
	if err := addCred(creds, c); err != nil || len(creds) == 0 {
		return false, err
	}
	var key string
	var a *engine.RegistryAuth
	for key, a = range creds {
	}
	val := a.Username + ":" + a.Password
	j.mu.Lock()
	have := j.creds[key] == val
	j.mu.Unlock()
	if have {
		return false, nil
	}
	secrets := j.e.core.Secrets(j.e.ns)
	name := j.pod + "-pull"
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		_ = json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &cfg)
		all := map[string]*engine.RegistryAuth{}
		for k, v := range cfg.Auths {
			all[k] = &engine.RegistryAuth{Username: v.Username, Password: v.Password}
		}
		all[key] = a
		data, err := dockerConfigJSON(all)
		if err != nil {
			return err
		}
		sec.Data = map[string][]byte{corev1.DockerConfigJsonKey: data}
		_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: add its registry credentials to secret %s: %w", c.Name, name, err)
	}
	j.mu.Lock()
	j.creds[key] = val
	j.mu.Unlock()
	return true, nil
}

// addEphemeral appends a container to the pod's ephemeral containers.
func (j *job) addEphemeral(ctx context.Context, ec corev1.EphemeralContainer) error {
	pods := j.e.core.Pods(j.e.ns)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, j.pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		_, err = pods.UpdateEphemeralContainers(ctx, j.pod, p, metav1.UpdateOptions{})
		return err
	})
}

// waitStarted waits until a step's container runs (or already ended), or
// fails with the reason it cannot start: from the kubelet's events as soon
// as a pull fails, else from the pod's status. tolerate failed pulls are
// let pass (the kubelet retries after a back-off).
func (j *job) waitStarted(ctx context.Context, kn string, tolerate int) error {
	pulls, last := 0, ""
	return j.until(ctx, func(p *corev1.Pod) (bool, error) {
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("the job's pod %s ended (%s): %s", j.pod, p.Status.Phase, p.Status.Message)
		}
		st := statusOf(p, kn)
		if st != nil && (st.State.Running != nil || st.State.Terminated != nil) {
			return true, nil
		}
		if st != nil && st.State.Waiting != nil {
			w := st.State.Waiting
			if w.Reason == "ErrImagePull" && last != "ErrImagePull" {
				pulls++
			}
			last = w.Reason
		}
		pf, fromEvent := j.pullFailure(kn)
		if fromEvent {
			pulls = max(pulls, pf.count)
		}
		reason, msg := containerProblem(p, kn)
		if reason == "" && fromEvent {
			reason, msg = pf.reason, pf.msg
		}
		if reason == "" {
			return false, nil
		}
		if (reason == "ErrImagePull" || reason == "ImagePullBackOff") && pulls <= tolerate {
			return false, nil
		}
		return false, errors.New(describeProblem(j.serviceLabel(kn), imageOf(p, kn), reason, msg))
	})
}

// stopScript signals the processes of one container of the pod, seen
// from the holder, whose PID namespace the steps share: with "main", the
// container's first process (whose parent is outside the namespace) and
// the processes of its process group, i.e. the command the script's shell
// runs, as Docker's init does with TINI_KILL_PROCESS_GROUP; otherwise all
// of them. It finds them by the container id in their cgroup, with shell
// builtins only, and signals PIDs one by one (shells' kill builtins differ
// on negative PIDs).
const stopScript = `id=$1 sig=$2 mode=$3 n=0 leads=' ' procs=
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  hit=
  { while IFS= read -r l; do case $l in *"$id"*) hit=1; break;; esac; done <"$d/cgroup"; } 2>/dev/null
  [ -n "$hit" ] || continue
  { read -r st <"$d/stat"; } 2>/dev/null || continue
  set -- ${st##*) }
  [ "$2" = 0 ] && leads="$leads$p "
  procs="$procs $p:$3"
done
for e in $procs; do
  p=${e%%:*} g=${e#*:}
  if [ "$mode" = main ]; then
    case $leads in *" $p "* | *" $g "*) ;; *) continue;; esac
  fi
  kill -s "$sig" "$p" 2>/dev/null && n=$((n+1))
done
echo "$n"`

// signal sends sig to a step's processes through an exec in the holder;
// it returns how many processes it signalled.
func (j *job) signal(ctx context.Context, id, sig, mode string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := j.e.exec(ctx, j.pod, holderName, []string{"sh", "-c", stopScript, "slipway-stop", id, sig, mode}, &stdout, &stderr)
	if err != nil {
		return 0, fmt.Errorf("%v %s", err, strings.TrimSpace(stderr.String()))
	}
	n, _ := strconv.Atoi(strings.TrimSpace(stdout.String()))
	return n, nil
}

// stop ends a step as docker stop does: SIGTERM to its process, SIGKILL
// to all of its processes after grace. A step that never started within
// grace is left to Destroy (it waits on stdin, or its image).
func (j *job) stop(ctx context.Context, kn string, grace time.Duration) {
	id := ""
	wctx, cancel := context.WithTimeout(ctx, max(grace, time.Second))
	_ = j.until(wctx, func(p *corev1.Pod) (bool, error) {
		st := statusOf(p, kn)
		switch {
		case st == nil:
			return false, nil
		case st.State.Terminated != nil:
			return true, nil
		case st.State.Running != nil:
			id = containerID(st)
			return true, nil
		}
		if r, _ := containerProblem(p, kn); r != "" {
			return true, nil
		}
		return false, nil
	})
	cancel()
	if id == "" {
		return
	}
	if grace > 0 {
		if _, err := j.signal(ctx, id, "TERM", "main"); err == nil && j.waitTerminated(ctx, kn, grace) {
			return
		}
	}
	if _, err := j.signal(ctx, id, "KILL", "all"); err == nil && j.waitTerminated(ctx, kn, 15*time.Second) {
		return
	}
	// The holder cannot reach it: only deleting the pod stops it.
	j.killed.Store(true)
	_ = j.e.core.Pods(j.e.ns).Delete(ctx, j.pod, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
}

func (j *job) waitTerminated(ctx context.Context, kn string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return j.until(ctx, func(p *corev1.Pod) (bool, error) {
		st := statusOf(p, kn)
		return st != nil && st.State.Terminated != nil, nil
	}) == nil
}

// Kill stops a step at once (SIGKILL to its processes), or, when that
// cannot be done, the whole pod. It comes on a second Ctrl-C, when the job
// is over anyway, so Destroy then deletes the pod without grace.
func (e *Engine) Kill(ctx context.Context, s *engine.Spec, name string) error {
	j := e.job(s)
	if j == nil {
		return nil
	}
	j.killed.Store(true)
	kn, ok := j.lookupName(name)
	if !ok {
		return nil
	}
	p, _, _ := j.current()
	if p != nil {
		st := statusOf(p, kn)
		if st != nil && st.State.Terminated != nil {
			return nil
		}
		if id := containerID(st); id != "" && st.State.Running != nil && isEphemeral(p, kn) {
			if _, err := j.signal(ctx, id, "KILL", "all"); err == nil {
				return nil
			}
		}
	}
	err := e.core.Pods(e.ns).Delete(ctx, j.pod, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	if ignoreNotFound(err) != nil {
		return err
	}
	return nil
}

func isEphemeral(p *corev1.Pod, kn string) bool {
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == kn {
			return true
		}
	}
	return false
}

// Inspect reports a container's state from the watched pod.
func (e *Engine) Inspect(ctx context.Context, s *engine.Spec, name string) (engine.State, error) {
	j := e.job(s)
	if j == nil {
		return engine.State{}, fmt.Errorf("%s: the job has no pod", name)
	}
	kn, ok := j.lookupName(name)
	if !ok {
		return engine.State{}, fmt.Errorf("%s is not a container of the job", name)
	}
	p, gone, _ := j.current()
	if gone {
		return engine.State{}, errPodGone{j.pod}
	}
	if p == nil {
		return engine.State{Running: true}, nil
	}
	return stateOf(statusOf(p, kn)), nil
}

// Dial connects to a service's port at the pod's IP, when this process
// can reach pod IPs (in the cluster, or on a node). When it cannot, the
// service's readiness (a TCP probe by the kubelet, on the service's first
// port or HEALTHCHECK_TCP_PORT) stands for the connection.
func (e *Engine) Dial(ctx context.Context, s *engine.Spec, name string, port int) (io.Closer, error) {
	j := e.job(s)
	if j == nil {
		return nil, fmt.Errorf("%s: the job has no pod", name)
	}
	kn, ok := j.lookupName(name)
	if !ok {
		return nil, fmt.Errorf("%s is not a container of the job", name)
	}
	p, _, _ := j.current()
	if p == nil || p.Status.PodIP == "" {
		return nil, fmt.Errorf("the job's pod has no IP address yet")
	}
	if e.podNet.Load() != 2 {
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)))
		switch {
		case err == nil:
			e.podNet.Store(1)
			return conn, nil
		case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET):
			e.podNet.Store(1)
			return nil, err
		case ctx.Err() != nil || e.podNet.Load() == 1:
			return nil, err
		}
		e.podNet.Store(2) // no route to pods from here: use readiness
	}
	st := statusOf(p, kn)
	if st != nil && st.Ready && st.State.Running != nil {
		return nopCloser{}, nil
	}
	if j.probePorts[kn] == 0 {
		return nil, fmt.Errorf("pod IPs are not reachable from here and %s has no readiness probe", name)
	}
	return nil, fmt.Errorf("%s is not ready", name)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// Logs writes the last tail lines (all when tail < 0) of a container's
// output to w, following it when asked. For a service waiting to be
// restarted, that is the output of the run that ended.
func (e *Engine) Logs(ctx context.Context, s *engine.Spec, name string, tail int, follow bool, w io.Writer) error {
	j := e.job(s)
	if j == nil {
		return fmt.Errorf("%s: the job has no pod", name)
	}
	kn, ok := j.lookupName(name)
	if !ok {
		return fmt.Errorf("%s is not a container of the job", name)
	}
	opts := &corev1.PodLogOptions{Container: kn, Follow: follow}
	if tail >= 0 {
		t := int64(tail)
		opts.TailLines = &t
	}
	if p, _, _ := j.current(); p != nil {
		if st := statusOf(p, kn); st != nil && st.State.Waiting != nil && st.LastTerminationState.Terminated != nil {
			opts.Previous, opts.Follow = true, false
		}
	}
	rc, err := e.core.Pods(e.ns).GetLogs(j.pod, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}
