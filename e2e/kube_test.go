package e2e

// slipway exec on the test cluster of scripts/k8s-cluster.sh. Skipped
// unless SLIPWAY_K8S=1 (with KUBECONFIG or SLIPWAY_TEST_KUBECONFIG from
// `scripts/k8s-cluster.sh env`). They need the command line wiring of
// engine/kube/WIRING.md (--kubeconfig, [runners.kubernetes]); until
// slipway exec has --kubeconfig they skip, saying so. engine/kube's own
// tests (TestCluster*) cover the engine on the same cluster without it.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const kubeNamespace = "slipway-test"

// kubeSetup returns the kubeconfig and a client, making the namespace.
func kubeSetup(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	if os.Getenv("SLIPWAY_K8S") != "1" {
		t.Skip(`set SLIPWAY_K8S=1 to run on the test cluster (scripts/k8s-cluster.sh up; eval "$(scripts/k8s-cluster.sh env)")`)
	}
	kc := os.Getenv("SLIPWAY_TEST_KUBECONFIG")
	if kc == "" {
		kc = os.Getenv("KUBECONFIG")
	}
	if kc == "" {
		t.Fatal(`SLIPWAY_K8S=1 but neither SLIPWAY_TEST_KUBECONFIG nor KUBECONFIG is set: eval "$(scripts/k8s-cluster.sh env)"`)
	}
	if out, _ := exec.Command(slipway, "exec", "--help").CombinedOutput(); !strings.Contains(string(out), "--kubeconfig") {
		t.Skip("slipway exec has no --kubeconfig: the command line wiring of engine/kube/WIRING.md is not applied yet")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kubeNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for {
		if _, err := cs.CoreV1().ServiceAccounts(kubeNamespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("namespace %s has no default service account", kubeNamespace)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return kc, cs
}

// kubeLeft counts the pods and secrets a slipway process left.
func kubeLeft(t *testing.T, cs kubernetes.Interface, owner string) int {
	t.Helper()
	ctx := context.Background()
	opts := metav1.ListOptions{LabelSelector: "slipway.run"}
	pods, err := cs.CoreV1().Pods(kubeNamespace).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cs.CoreV1().Secrets(kubeNamespace).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.Annotations["slipway.dev/owner"] == owner {
			n++
		}
	}
	for _, s := range secrets.Items {
		if s.Annotations["slipway.dev/owner"] == owner {
			n++
		}
	}
	return n
}

func kubeConfigFile(t *testing.T, executor string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	content := "[[runners]]\n"
	if executor != "" {
		content += "  executor = \"" + executor + "\"\n"
	}
	content += "  [runners.kubernetes]\n    namespace = \"" + kubeNamespace + "\"\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubeDronePipeline(t *testing.T) {
	kc, cs := kubeSetup(t)
	p := newProject(t, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: build
  image: busybox:1.35
  commands:
  - echo "building in $(pwd)"
  - ls
  - echo "pod $(hostname)"
- name: test
  image: debian:bookworm
  commands:
  - redis-cli -h 127.0.0.1 set k v
  - redis-cli -h cache get k
  - false
  - echo never
services:
- name: cache
  image: redis:7.0
`, "main.go", "package main\n")
	r := p.run("exec", "--kubeconfig", kc, "--config", kubeConfigFile(t, ""))
	wantCode(t, r, 1)
	// The hostname is the pod's name: the job ran on Kubernetes.
	mustContain(t, r, "building in /drone/src\n", "main.go\n", "pod slipway-", "OK\n", "v\n", "+ false\n")
	mustNotContain(t, r, "never\n")
	if n := kubeLeft(t, cs, r.owner); n != 0 {
		t.Errorf("%d objects left", n)
	}
}

func TestKubeGitLabExecutor(t *testing.T) {
	kc, cs := kubeSetup(t)
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: debian:bookworm
  services:
  - name: redis:7.0
    alias: cache
  script:
  - redis-cli -h cache ping
  - pwd
  - echo "pod $(hostname)"
`)
	r := p.run("exec", "--kubeconfig", kc, "--config", kubeConfigFile(t, "kubernetes"))
	wantCode(t, r, 0)
	mustContain(t, r, "PONG\n", "/builds/group/project\n", "pod slipway-", `Job "test" passed`)
	if n := kubeLeft(t, cs, r.owner); n != 0 {
		t.Errorf("%d objects left", n)
	}
}

func TestKubeCtrlC(t *testing.T) {
	kc, cs := kubeSetup(t)
	p := newProject(t, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: long
  image: busybox:1.35
  commands:
  - echo started
  - sleep 300
`)
	pr := p.start("exec", "--kubeconfig", kc, "--config", kubeConfigFile(t, ""))
	pr.waitFor("started\n", 2*time.Minute)
	pr.signal(syscall.SIGINT)
	r := pr.wait()
	wantCode(t, r, 130)
	if n := kubeLeft(t, cs, r.owner); n != 0 {
		t.Errorf("%d objects left", n)
	}
}
