package kube

import (
	"context"
	"github.com/slipway-ci/slipway/runner"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-ci/slipway/engine"
)

// TestStartServiceAddsADetachedStep: a container that is not one of the
// pod's services (a Drone step with detach: true) is added as an
// ephemeral container and left running; its name is among the pod's host
// aliases, so later steps reach it by name. One with a script on stdin is
// refused: nothing would write it.
func TestStartServiceAddsADetachedStep(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: 5 * time.Second})
	s := serviceSpec()
	s.Network, s.Aliases = engine.NetworkShared, []string{"redis", "server"}
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		p.Status.Phase = corev1.PodRunning
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{running("svc-redis")}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{running(holderName)}
	})
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The kubelet starts the ephemeral container once the pod has it.
	go func() {
		for i := 0; i < 500; i++ {
			p, err := cs.CoreV1().Pods("ci").Get(ctx, podName(s), metav1.GetOptions{})
			if err == nil && len(p.Spec.EphemeralContainers) > 0 {
				st := running(p.Spec.EphemeralContainers[0].Name)
				p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{st}
				_, _ = cs.CoreV1().Pods("ci").Update(ctx, p, metav1.UpdateOptions{})
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	detached := &engine.Container{Name: "step-0", Image: "docker.io/library/busybox:1.35",
		Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"exec httpd -f -p 8080"}, Aliases: []string{"server"}}
	if err := e.StartService(ctx, s, detached); err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("ci").Get(ctx, podName(s), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Spec.EphemeralContainers); n != 1 || p.Spec.EphemeralContainers[0].Stdin {
		t.Errorf("ephemeral containers %+v", p.Spec.EphemeralContainers)
	}
	var hosts []string
	for _, h := range p.Spec.HostAliases {
		hosts = append(hosts, h.Hostnames...)
	}
	if !slices.Contains(hosts, "server") {
		t.Errorf("host aliases %v lack the detached step's name", hosts)
	}
	if st, err := e.Inspect(ctx, s, "step-0"); err != nil || !st.Running {
		t.Errorf("Inspect = %+v, %v", st, err)
	}
	withStdin := &engine.Container{Name: "step-1", Image: "docker.io/library/busybox:1.35", Stdin: []byte("echo\n")}
	if err := e.StartService(ctx, s, withStdin); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("a detached container with a script on stdin: %v", err)
	}
	if err := e.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// TestClusterDroneDetachedStep: on a real cluster, a detached step keeps
// serving while the later steps reach it by name and on localhost; the
// job ends with it still running, and nothing is left.
func TestClusterDroneDetachedStep(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: server
  image: busybox:1.35
  detach: true
  commands:
  - echo detached > /tmp/index.html
  - echo serving in the background
  - exec httpd -f -p 8080 -h /tmp
- name: client
  image: busybox:1.35
  commands:
  - for i in $(seq 100); do wget -qO- http://server:8080/ && break; sleep 0.2; done
  - wget -qO- http://127.0.0.1:8080/
`, runOpts{})
	if j := r.job(t, "default"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "serving in the background\n", "done\ndetached\n+ wget -qO- http://127.0.0.1:8080/\ndetached\n")
}
