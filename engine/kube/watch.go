package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/slipway-ci/slipway/engine"
)

// job is the engine's state of one job: its pod, as last seen by a watch
// of that one pod (so that waits, Inspect and the health checks' Dial
// cost no request of their own), and the names of its containers.
type job struct {
	e    *Engine
	spec *engine.Spec
	pod  string
	uid  types.UID

	mu      sync.Mutex
	cur     *corev1.Pod
	gone    bool
	changed chan struct{} // closed and replaced at every change

	names      map[string]string   // engine name → container name
	taken      map[string]bool     // container names in use
	probePorts map[string]int      // service container → its readiness port
	volumes    map[string]string   // mount source → pod volume name
	creds      map[string]string   // pull secret keys → "user:password"
	pullFails  map[string]pullFail // container → the kubelet's last failed pull

	killed       atomic.Bool // a Kill happened: Destroy deletes at once
	stopWatching context.CancelFunc
	watchDone    chan struct{}
}

func jobKey(s *engine.Spec) string { return s.RunID + "/" + s.Key }

func (e *Engine) newJob(s *engine.Spec) *job {
	j := &job{
		e: e, spec: s, pod: podName(s), changed: make(chan struct{}),
		names: map[string]string{}, taken: map[string]bool{initName: true, holderName: true},
		probePorts: map[string]int{}, volumes: map[string]string{}, creds: map[string]string{},
		pullFails: map[string]pullFail{},
	}
	e.mu.Lock()
	e.jobs[jobKey(s)] = j
	e.mu.Unlock()
	return j
}

// job returns the state Setup made for s, or nil.
func (e *Engine) job(s *engine.Spec) *job {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.jobs[jobKey(s)]
}

func (e *Engine) forget(s *engine.Spec) *job {
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.jobs[jobKey(s)]
	delete(e.jobs, jobKey(s))
	return j
}

// containerName gives an engine container name its (unique, valid)
// container name in the pod.
func (j *job) containerName(name string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if n, ok := j.names[name]; ok {
		return n
	}
	n := dnsLabel(name, 63)
	for i := 2; j.taken[n]; i++ {
		n = dnsLabel(fmt.Sprintf("%s-%d", name, i), 63)
	}
	j.names[name], j.taken[n] = n, true
	return n
}

// lookupName is the container name of an engine name already named.
func (j *job) lookupName(name string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n, ok := j.names[name]
	return n, ok
}

// set records the pod as the watch saw it.
func (j *job) set(p *corev1.Pod, gone bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p != nil && j.uid != "" && p.UID != j.uid {
		return // another pod of the same name: not ours
	}
	if p != nil && j.cur != nil && p.ResourceVersion != "" && p.ResourceVersion == j.cur.ResourceVersion {
		return
	}
	if gone {
		j.gone, j.cur = true, nil
	} else {
		j.cur = p
	}
	close(j.changed)
	j.changed = make(chan struct{})
}

// current is the last pod seen (nil before the first), whether it is gone,
// and a channel closed at the next change.
func (j *job) current() (*corev1.Pod, bool, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur, j.gone, j.changed
}

// watch follows the job's pod until stopped: a list, then a watch from
// that list's version, again after any interruption.
func (j *job) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	j.stopWatching, j.watchDone = cancel, make(chan struct{})
	events := make(chan struct{})
	go func() {
		defer close(events)
		j.watchEvents(ctx)
	}()
	go func() {
		defer close(j.watchDone)
		defer func() { <-events }()
		pods := j.e.core.Pods(j.e.ns)
		sel := fields.OneTermEqualSelector("metadata.name", j.pod).String()
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			found := false
			for i := range list.Items {
				if list.Items[i].Name == j.pod {
					j.set(&list.Items[i], false)
					found = true
				}
			}
			if !found {
				j.set(nil, true)
			}
			w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
			if err != nil {
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			j.followWatch(ctx, w)
		}
	}()
}

func (j *job) followWatch(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return
		case ev, open = <-w.ResultChan():
		}
		if !open {
			return
		}
		p, ok := ev.Object.(*corev1.Pod)
		switch {
		case ev.Type == watch.Error:
			return // expired version and the like: list again
		case !ok || p.Name != j.pod:
		case ev.Type == watch.Deleted:
			j.set(p, true)
		case ev.Type == watch.Added || ev.Type == watch.Modified:
			j.set(p, false)
		}
	}
}

// pullFail is the kubelet's report of failed pulls of a container's image.
type pullFail struct {
	reason string // ErrImagePull, ErrImageNeverPull, InvalidImageName
	msg    string
	count  int // failed attempts
}

// watchEvents follows the kubelet's events about the pod: it reports a
// failed pull at once, where the pod's status says so only at the
// kubelet's next sync of the pod (about 10 s later).
func (j *job) watchEvents(ctx context.Context) {
	evs := j.e.core.Events(j.e.ns)
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": j.pod}.AsSelector().String()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		list, err := evs.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err == nil {
			for i := range list.Items {
				j.event(&list.Items[i])
			}
			var w watch.Interface
			if w, err = evs.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: list.ResourceVersion}); err == nil {
				backoff = 100 * time.Millisecond
				j.followEvents(ctx, w)
				continue
			}
		}
		if apierrors.IsForbidden(err) {
			return // the status will tell, later
		}
		sleep(ctx, backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (j *job) followEvents(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, open := <-w.ResultChan():
			if !open || ev.Type == watch.Error {
				return
			}
			if e, ok := ev.Object.(*corev1.Event); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				j.event(e)
			}
		}
	}
}

// event records a failed pull from a kubelet event such as
// "Failed to pull image "x": ..." on spec.ephemeralContainers{step-1}.
func (j *job) event(e *corev1.Event) {
	o := e.InvolvedObject
	if o.Name != j.pod || e.Type != corev1.EventTypeWarning {
		return
	}
	_, rest, ok := strings.Cut(o.FieldPath, "{")
	name, _, _ := strings.Cut(rest, "}")
	if !ok || name == "" {
		return
	}
	var pf pullFail
	switch {
	case e.Reason == "Failed" && strings.HasPrefix(e.Message, "Failed to pull image"):
		pf = pullFail{reason: "ErrImagePull", msg: e.Message}
	case e.Reason == "ErrImageNeverPull":
		pf = pullFail{reason: "ErrImageNeverPull", msg: e.Message}
	case e.Reason == "InspectFailed":
		pf = pullFail{reason: "InvalidImageName", msg: e.Message}
	default:
		return
	}
	pf.count = int(max(e.Count, 1))
	if e.Series != nil {
		pf.count = max(pf.count, int(e.Series.Count))
	}
	j.mu.Lock()
	if j.uid != "" && o.UID != "" && o.UID != j.uid {
		j.mu.Unlock()
		return
	}
	if old, ok := j.pullFails[name]; ok && old.count >= pf.count && old.msg == pf.msg {
		j.mu.Unlock()
		return
	}
	if old, ok := j.pullFails[name]; ok && old.count >= pf.count {
		pf.count = old.count + 1 // a new message: another attempt
	}
	j.pullFails[name] = pf
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// pullFailure is the kubelet's last failed pull of a container's image.
func (j *job) pullFailure(name string) (pullFail, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	pf, ok := j.pullFails[name]
	return pf, ok
}

func (j *job) stopWatch() {
	if j.stopWatching != nil {
		j.stopWatching()
		<-j.watchDone
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errPodGone is returned by waits when the job's pod disappeared.
type errPodGone struct{ pod string }

func (e errPodGone) Error() string {
	return fmt.Sprintf("the job's pod %s was deleted (by someone else, or the node went away)", e.pod)
}

// until re-evaluates check at every change of the pod until it says done
// or fails, or ctx ends. check sees the pod (never nil).
func (j *job) until(ctx context.Context, check func(*corev1.Pod) (bool, error)) error {
	for {
		p, gone, ch := j.current()
		if gone {
			return errPodGone{j.pod}
		}
		if p != nil {
			if done, err := check(p); err != nil || done {
				return err
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// --- container statuses

// statusOf finds a container's status among all of the pod's.
func statusOf(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// imageOf is the image a container of the pod was given.
func imageOf(p *corev1.Pod, name string) string {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.Image
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

// pullFailures are waiting reasons that mean the image will not come
// without someone doing something.
var pullFailures = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true, "ErrImageInspect": true,
	"SignatureValidationFailed": true,
}

// startFailures are waiting reasons that mean the container could not be
// created from its specification.
var startFailures = map[string]bool{
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"PreCreateHookError": true, "PreStartHookError": true, "PostStartHookError": true,
}

// containerProblem says why a waiting container will not start, or "".
// tolerate is the number of ErrImagePull reports to ignore (the kubelet
// retries a pull after a back-off).
func containerProblem(p *corev1.Pod, name string) (reason, msg string) {
	st := statusOf(p, name)
	if st == nil || st.State.Waiting == nil {
		return "", ""
	}
	w := st.State.Waiting
	if w.Reason == "CreateContainerConfigError" && strings.HasPrefix(w.Message, "failed to sync ") {
		// "failed to sync secret cache: timed out waiting for the
		// condition": the kubelet had not yet seen the pod's pull or env
		// secret; it retries on its next sync, so this is not final.
		return "", ""
	}
	if pullFailures[w.Reason] || startFailures[w.Reason] {
		return w.Reason, w.Message
	}
	return "", ""
}

// describeProblem turns a waiting reason into a sentence naming the image.
func describeProblem(what, image, reason, msg string) string {
	if strings.HasPrefix(msg, "Failed to pull image ") {
		if _, rest, ok := strings.Cut(msg, `": `); ok {
			msg = rest // the kubelet's event names the image too
		}
	}
	if msg == "" {
		msg = reason
	}
	switch {
	case reason == "ErrImageNeverPull":
		return fmt.Sprintf("%s: image %s is not on the node and its pull policy is never", what, image)
	case pullFailures[reason]:
		return fmt.Sprintf("%s: cannot pull image %s (%s): %s", what, image, reason, msg)
	default:
		return fmt.Sprintf("%s: cannot start a container of image %s (%s): %s", what, image, reason, msg)
	}
}

// unschedulable is the scheduler's reason while the pod has no node.
func unschedulable(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return ""
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			if c.Message != "" {
				return c.Message
			}
			return c.Reason
		}
	}
	return ""
}

// waitingFor describes what a pod still waits for, for timeout errors.
func waitingFor(p *corev1.Pod) string {
	if p == nil {
		return "the pod was never seen"
	}
	if msg := unschedulable(p); msg != "" {
		return "the pod cannot be scheduled: " + msg
	}
	if p.Spec.NodeName == "" {
		return "the pod is not scheduled yet"
	}
	var parts []string
	all := append(append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...), p.Status.EphemeralContainerStatuses...)
	for _, st := range all {
		if st.State.Waiting != nil {
			r := st.State.Waiting.Reason
			if st.State.Waiting.Message != "" {
				r += ": " + st.State.Waiting.Message
			}
			parts = append(parts, fmt.Sprintf("%s (%s) is waiting: %s", st.Name, st.Image, r))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "pod phase " + string(p.Status.Phase)
	}
	return strings.Join(parts, "; ")
}

// stateOf maps a container status to the engine's State. A container
// that waits to be restarted reports its last exit; one that waits to
// start for the first time counts as running (it has not exited).
func stateOf(st *corev1.ContainerStatus) engine.State {
	if st == nil {
		return engine.State{Running: true}
	}
	if t := st.State.Terminated; t != nil {
		return engine.State{ExitCode: int(t.ExitCode), OOM: t.Reason == "OOMKilled", Error: t.Message}
	}
	if st.State.Waiting != nil {
		if t := st.LastTerminationState.Terminated; t != nil {
			return engine.State{ExitCode: int(t.ExitCode), OOM: t.Reason == "OOMKilled", Error: st.State.Waiting.Reason}
		}
	}
	return engine.State{Running: true}
}

// containerID is the runtime's id of a container ("containerd://<id>").
func containerID(st *corev1.ContainerStatus) string {
	if st == nil {
		return ""
	}
	_, id, _ := strings.Cut(st.ContainerID, "://")
	return id
}
