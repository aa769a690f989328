package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/internal/tarball"
)

// Setup creates the job's secrets and pod, copies the workspace in, and
// waits until the services have started and the holder runs, so that
// steps can be added. Every wait is bounded by PollTimeout; errors name
// the service or image and the kubelet's or scheduler's reason.
func (e *Engine) Setup(ctx context.Context, s *engine.Spec) error {
	if e.job(s) != nil {
		return fmt.Errorf("job %s is already set up", s.Key)
	}
	if len(s.Inputs) > 0 {
		return errNoArtifacts
	}
	j := e.newJob(s)
	for _, c := range s.Services {
		kn := j.containerName(c.Name)
		if p := e.probePort(ctx, c); p > 0 {
			j.probePorts[kn] = p
		}
	}
	pp, err := j.buildPod(s)
	if err != nil {
		return err
	}
	// A creation cut off by a cancel may still complete in the API server
	// after Destroy has listed the job's objects: creations run to the
	// end, and ctx is checked between them.
	api := context.WithoutCancel(ctx)
	secrets := e.core.Secrets(e.ns)
	for _, sec := range []*corev1.Secret{pp.env, pp.pull} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := secrets.Create(api, sec, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create secret %s in namespace %s: %w", sec.Name, e.ns, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	created, err := e.core.Pods(e.ns).Create(api, pp.pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s in namespace %s: %w", pp.pod.Name, e.ns, err)
	}
	j.mu.Lock()
	j.uid = created.UID
	j.mu.Unlock()
	j.set(created, false)
	j.startWatch()
	// The secrets go with the pod, whoever deletes it.
	for _, sec := range []*corev1.Secret{pp.env, pp.pull} {
		_ = e.ownBy(ctx, sec.Name, created.UID, j.pod)
	}
	wctx, cancel := context.WithTimeout(ctx, e.cfg.PollTimeout)
	defer cancel()
	if pp.tarIn {
		if err := j.copyWorkspace(wctx, s); err != nil {
			return j.setupError(ctx, err)
		}
	}
	err = j.until(wctx, func(p *corev1.Pod) (bool, error) {
		if err := j.setupProblem(p); err != nil {
			return false, err
		}
		st := statusOf(p, holderName)
		return st != nil && st.State.Running != nil, nil
	})
	return j.setupError(ctx, err)
}

// setupError explains a timeout of Setup's waits by what the pod still
// waits for.
func (j *job) setupError(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		p, _, _ := j.current()
		return fmt.Errorf("the job's pod %s did not start within %s: %s", j.pod, j.e.cfg.PollTimeout, waitingFor(p))
	}
	return err
}

// ownBy makes the pod the owner of a secret, so that the garbage
// collector removes it with the pod.
func (e *Engine) ownBy(ctx context.Context, secret string, uid types.UID, pod string) error {
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":%q,"uid":%q}]}}`, pod, uid)
	_, err := e.core.Secrets(e.ns).Patch(ctx, secret, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// probePort is the port a service's readiness probe tries:
// HEALTHCHECK_TCP_PORT when set, else the image's lowest exposed port.
func (e *Engine) probePort(ctx context.Context, c *engine.Container) int {
	for _, kv := range slices.Backward(c.Env) {
		if v, ok := strings.CutPrefix(kv, "HEALTHCHECK_TCP_PORT="); ok {
			if p, err := strconv.Atoi(v); err == nil && p > 0 && p < 65536 {
				return p
			}
		}
	}
	info, _ := e.ImageInfo(ctx, c.Image)
	if len(info.ExposedTCPPorts) > 0 {
		return slices.Min(info.ExposedTCPPorts)
	}
	return 0
}

// serviceLabel names a container of the pod for people.
func (j *job) serviceLabel(kn string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch kn {
	case initName:
		return "the workspace container (the helper image, helper_image in [runners.kubernetes])"
	case holderName:
		return "the holder container (the helper image, helper_image in [runners.kubernetes])"
	}
	for name, n := range j.names {
		if n == kn {
			if svc, ok := strings.CutPrefix(name, "svc-"); ok {
				return "service " + svc
			}
			return name
		}
	}
	return kn
}

// setupProblem says why the pod will not get its services and holder
// running, or nil while it may still.
func (j *job) setupProblem(p *corev1.Pod) error {
	if st := statusOf(p, initName); st != nil && st.State.Terminated != nil && st.State.Terminated.ExitCode != 0 {
		t := st.State.Terminated
		return fmt.Errorf("unpacking the workspace into the job's pod failed (exit code %d): %s", t.ExitCode, strings.TrimSpace(t.Message))
	}
	names := []string{initName}
	for _, c := range p.Spec.InitContainers {
		if c.Name != initName {
			names = append(names, c.Name)
		}
	}
	names = append(names, holderName)
	for _, n := range names {
		reason, msg := containerProblem(p, n)
		if st := statusOf(p, n); reason == "" && (st == nil || st.State.Running == nil && st.State.Terminated == nil) {
			if pf, ok := j.pullFailure(n); ok {
				reason, msg = pf.reason, pf.msg
			}
		}
		if reason != "" {
			return errors.New(describeProblem(j.serviceLabel(n), imageOf(p, n), reason, msg))
		}
	}
	holderUp := false
	if st := statusOf(p, holderName); st != nil && st.State.Running != nil {
		holderUp = true
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == initName || holderUp {
			continue
		}
		st := statusOf(p, c.Name)
		if st == nil {
			continue
		}
		t := st.State.Terminated
		if t == nil && st.State.Waiting != nil {
			t = st.LastTerminationState.Terminated
		}
		if t != nil {
			// The kubelet starts the next container only once a sidecar
			// runs: one that exits at once holds the whole pod.
			return fmt.Errorf("%s (%s) exited with code %d before the job's steps could start (on Kubernetes the steps start only once every service has started)%s",
				j.serviceLabel(c.Name), c.Image, t.ExitCode, logLines(t.Message))
		}
	}
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		msg := p.Status.Message
		if msg == "" {
			msg = p.Status.Reason
		}
		return fmt.Errorf("the job's pod %s ended (%s) before its steps ran: %s", j.pod, p.Status.Phase, msg)
	}
	return nil
}

func logLines(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return ""
	}
	return "; its last output:\n  " + strings.ReplaceAll(msg, "\n", "\n  ")
}

var errAttachEnded = errors.New("the attach session ended")

// copyWorkspace streams the workspace as a tar to the init container's
// stdin, once it runs; nothing is buffered whole.
func (j *job) copyWorkspace(ctx context.Context, s *engine.Spec) error {
	err := j.until(ctx, func(p *corev1.Pod) (bool, error) {
		if err := j.setupProblem(p); err != nil {
			return false, err
		}
		st := statusOf(p, initName)
		return st != nil && (st.State.Running != nil || st.State.Terminated != nil), nil
	})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	tarErr := make(chan error, 1)
	go func() {
		err := tarball.Write(pw, s.WorkspaceDir, path.Join(s.WorkspacePath, s.WorkspaceSub), s.WorkspaceSub)
		tarErr <- err
		pw.CloseWithError(err)
	}()
	err = j.e.attach(ctx, j.pod, initName, pr)
	pr.CloseWithError(errAttachEnded)
	if werr := <-tarErr; werr != nil && !errors.Is(werr, errAttachEnded) {
		return fmt.Errorf("copy workspace %s into the job: %w", s.WorkspaceDir, werr)
	}
	if err != nil {
		return fmt.Errorf("copy workspace %s into the job's pod: %w", s.WorkspaceDir, err)
	}
	return nil
}

// StartService checks that a service is one of the pod's: on
// Kubernetes, services are sidecars that Setup started. Any other
// container (a Drone step with detach: true, known only when the runner
// gets to it) is added to the pod as an ephemeral container, like a step,
// and left running: nothing writes to its stdin (the runner gives a
// detached step its script as an argument), and it ends with the pod.
// Setup gave its name to the pod's hostAliases (the Spec's Aliases), so
// the later steps reach it by name, and on localhost.
func (e *Engine) StartService(ctx context.Context, s *engine.Spec, c *engine.Container) error {
	j := e.job(s)
	if j == nil {
		return fmt.Errorf("service %s: the job has no pod", c.Name)
	}
	if _, ok := j.lookupName(c.Name); ok {
		return nil
	}
	if c.Stdin != nil {
		return fmt.Errorf("%s: a container started in the background cannot be given a script on its standard input", c.Name)
	}
	_, err := j.startEphemeral(ctx, s, c)
	return err
}
