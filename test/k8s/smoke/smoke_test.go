// Package smoke checks the test cluster of scripts/k8s-cluster.sh: one pod
// with a native sidecar (redis:7.0, an init container with restartPolicy
// Always), a busybox container and a debian:bookworm container that talks
// to the sidecar over the pod's loopback; it must complete, its logs are
// checked, and it is deleted.
//
// Runs only when SLIPWAY_TEST_KUBECONFIG names a kubeconfig (KUBECONFIG
// alone is not enough: it could point at a real cluster):
//
//	eval "$(scripts/k8s-cluster.sh env)"
//	cd test/k8s && go test -v ./smoke      # or: scripts/k8s-cluster.sh selftest
package smoke

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func client(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	kubeconfig := os.Getenv("SLIPWAY_TEST_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("SLIPWAY_TEST_KUBECONFIG not set (eval \"$(scripts/k8s-cluster.sh env)\")")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestSidecarPod(t *testing.T) {
	cs := client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "default"
	always := corev1.ContainerRestartPolicyAlways
	redisPort := intstr.FromInt32(6379)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke-" + rand.String(6), Labels: map[string]string{"app": "slipway-smoke"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr(int64(5)),
			InitContainers: []corev1.Container{{
				Name:            "redis",
				Image:           "redis:7.0",
				ImagePullPolicy: corev1.PullIfNotPresent,
				RestartPolicy:   &always, // native sidecar
				// The startup probe holds back the main containers until
				// Redis listens (a readiness probe alone does not).
				StartupProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: redisPort}},
					PeriodSeconds:    1,
					FailureThreshold: 60,
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: redisPort}},
					PeriodSeconds: 1,
				},
			}},
			Containers: []corev1.Container{{
				Name:            "hello",
				Image:           "busybox:1.35",
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"sh", "-c", "echo hello"},
			}, {
				Name:            "ping",
				Image:           "debian:bookworm",
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"redis-cli", "-h", "127.0.0.1", "ping"},
			}},
		},
	}
	start := time.Now()
	created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	name := created.Name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		t0 := time.Now()
		if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete pod %s: %v", name, err)
			return
		}
		for {
			_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				t.Logf("pod %s deleted in %v", name, time.Since(t0).Round(time.Millisecond))
				return
			}
			if ctx.Err() != nil {
				t.Errorf("pod %s still there after %v", name, time.Since(t0))
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	var p *corev1.Pod
	for {
		p, err = cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod: %v (last seen: %s)", err, describe(p))
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("pod %s %s %v after creation", name, p.Status.Phase, time.Since(start).Round(time.Millisecond))
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod phase %s: %s", p.Status.Phase, describe(p))
	}
	for c, want := range map[string]string{"hello": "hello", "ping": "PONG"} {
		got := logs(ctx, t, cs, ns, name, c)
		if strings.TrimSpace(got) != want {
			t.Errorf("logs of %s: %q, want %q", c, got, want)
		}
	}
}

func logs(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns, pod, container string) string {
	t.Helper()
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		t.Errorf("logs of %s: %v", container, err)
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("logs of %s: %v", container, err)
	}
	return string(b)
}

func describe(p *corev1.Pod) string {
	if p == nil {
		return "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s reason=%q message=%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "; %s ready=%v", cs.Name, cs.Ready)
		switch {
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Running != nil:
			b.WriteString(" running")
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s exit=%d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
