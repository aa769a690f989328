package kubernetes_test

// TestDeployOnCluster deploys this directory with `kubectl apply -k` on
// the test cluster of scripts/k8s-cluster.sh, as a user would, and runs
// builds through it. Skipped unless SLIPWAY_K8S=1 (with KUBECONFIG or
// SLIPWAY_TEST_KUBECONFIG from `scripts/k8s-cluster.sh env`), like
// engine/kube's cluster tests:
//
//	scripts/k8s-cluster.sh up; eval "$(scripts/k8s-cluster.sh env)"
//	go test ./deploy/kubernetes -run Cluster -v
//
// What the test cluster lacks and a real one has is supplied from outside
// the manifests, by an overlay: volumes (hostPath PersistentVolumes bound
// to the StatefulSets' claims: it has no storage provisioner), Service
// routing (a proxy on the node address, see proxy_test.go: no kube-proxy, no
// DNS) and the image (slipway:k8s-e2e, built from this tree by
// scripts/image.sh and copied into the cluster).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-ci/slipway/server/client"
)

const (
	namespace = "slipway"
	testImage = "slipway:k8s-e2e"
	// testLabel marks the test's namespace and PersistentVolumes (those are
	// cluster-scoped: deleting the namespace leaves them), which the test
	// alone may delete when an earlier run left them.
	testLabel = "slipway.dev/deploy-e2e"
)

// cluster is the test cluster, driven with its own kubectl.
type cluster struct {
	t          *testing.T
	kubeconfig string
	kubectlBin string
	apiAddr    string // host:port of the API server
	cs         kubernetes.Interface
}

func openCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("SLIPWAY_K8S") != "1" {
		t.Skip(`set SLIPWAY_K8S=1 to deploy on the test cluster (scripts/k8s-cluster.sh up; eval "$(scripts/k8s-cluster.sh env)")`)
	}
	kc := os.Getenv("SLIPWAY_TEST_KUBECONFIG")
	if kc == "" {
		kc = os.Getenv("KUBECONFIG")
	}
	if kc == "" {
		t.Fatal(`SLIPWAY_K8S=1 but neither SLIPWAY_TEST_KUBECONFIG nor KUBECONFIG is set: eval "$(scripts/k8s-cluster.sh env)"`)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	api, err := hostPort(rc.Host)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster's own kubectl (its version) sits beside its kubeconfig.
	bin := filepath.Join(filepath.Dir(kc), "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("kubectl"); err != nil {
			t.Fatalf("no kubectl beside %s nor on PATH", kc)
		}
	}
	return &cluster{t: t, kubeconfig: kc, kubectlBin: bin, apiAddr: api, cs: cs}
}

// kubectl runs kubectl and returns its output; failing fails the test.
func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := c.tryKubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) tryKubectl(args ...string) (string, error) {
	cmd := exec.Command(c.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a command in dir, failing the test with its output.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loadImages builds slipway's image from this tree and copies it and the
// images the deployment and the jobs use into the cluster (nothing is
// pulled: imagePullPolicy IfNotPresent).
func loadImages(t *testing.T, repo string) {
	t.Helper()
	run(t, repo, []string{"SLIPWAY_IMAGE=" + testImage}, "bash", "scripts/image.sh", "--no-check")
	run(t, repo, nil, "bash", "scripts/k8s-cluster.sh", "load", testImage, "postgres:15", "redis:7.0", "busybox:1.35")
}

// removeLeftovers deletes what an interrupted run of this test left.
func (c *cluster) removeLeftovers() {
	c.t.Helper()
	ns, err := c.cs.CoreV1().Namespaces().Get(context.Background(), namespace, metav1.GetOptions{})
	if err == nil && ns.Labels[testLabel] != "1" {
		c.t.Fatalf("the namespace %s exists and is not this test's (no label %s): refusing to touch it", namespace, testLabel)
	}
	if err == nil {
		c.t.Logf("deleting the namespace %s left by an earlier run", namespace)
	}
	c.forceDelete()
}

// forceDelete deletes the namespace and the test's volumes, giving the
// pods one second of grace: a runner whose job was cut (an interrupted
// run: no proxy to the API server any more) would hold its pod for its
// whole grace period. (Not --force: the kubelet would then stop the
// containers of a pod gone from the API with the grace of its spec.)
func (c *cluster) forceDelete() {
	c.t.Helper()
	for _, args := range [][]string{
		{"delete", "pods", "--all", "-n", namespace, "--grace-period=1", "--wait=false"},
		{"delete", "namespace", namespace, "--ignore-not-found", "--wait=false"},
		{"delete", "persistentvolumes", "-l", testLabel, "--wait=false"},
	} {
		if out, err := c.tryKubectl(args...); err != nil {
			c.t.Logf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	c.waitGone()
}

// volumeDirs makes the host directories of the test's volumes: the
// server's owned by its user (hostPath volumes ignore fsGroup), the
// database's by root (the postgres image's entrypoint hands it over).
func volumeDirs(t *testing.T) (server, db string) {
	t.Helper()
	base := t.TempDir()
	server, db = filepath.Join(base, "server"), filepath.Join(base, "postgres")
	// 0755 as a provisioned volume's root usually is: the database's
	// directory is a subdirectory (PGDATA) the postgres user must reach.
	for _, d := range []string{server, db} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(server, 10001, 10001); err != nil {
		t.Fatal(err)
	}
	return server, db
}

// writeOverlay makes a copy of this directory (with a generated
// secrets.env, as a user makes it) and an overlay for the test cluster
// beside it; it returns the overlay's directory.
func writeOverlay(t *testing.T, apiPort, serverPort, dbPort int, serverDir, dbDir string) string {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	if err := os.Mkdir(base, 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(base, f), string(data))
	}
	writeFile(t, filepath.Join(base, "secrets.env"), fmt.Sprintf("postgres-password=%s\nregistration-token=%s\n", randomHex(t), randomHex(t)))
	overlay := filepath.Join(dir, "test-cluster")
	if err := os.Mkdir(overlay, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %[1]s
resources:
- ../base
- volumes.yaml
images:
- name: slipway
  newName: %[2]s
  newTag: %[3]s
configMapGenerator:
- name: slipway
  behavior: merge
  literals:
  - SLIPWAY_URL=http://%[4]s:%[5]d
  - SLIPWAY_DATABASE=postgres://slipway@%[4]s:%[6]d/slipway?sslmode=disable
patches:
- target:
    kind: Namespace
    name: %[1]s
  patch: |-
    apiVersion: v1
    kind: Namespace
    metadata:
      name: %[1]s
      labels:
        %[8]s: "1"
- target:
    kind: Deployment
    name: slipway-runner
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: slipway-runner
    spec:
      template:
        spec:
          containers:
          - name: runner
            env:
            - name: KUBERNETES_SERVICE_HOST
              value: "%[4]s"
            - name: KUBERNETES_SERVICE_PORT
              value: "%[7]d"
`, namespace, strings.Split(testImage, ":")[0], strings.Split(testImage, ":")[1], nodeIP, serverPort, dbPort, apiPort, testLabel))
	writeFile(t, filepath.Join(overlay, "volumes.yaml"),
		persistentVolume("slipway-e2e-server", "data-slipway-server-0", "10Gi", serverDir)+"---\n"+
			persistentVolume("slipway-e2e-postgres", "data-slipway-postgres-0", "5Gi", dbDir))
	return overlay
}

// persistentVolume is a hostPath volume bound in advance to one claim.
func persistentVolume(name, claim, size, path string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata:
  name: %s
  labels:
    %s: "1"
spec:
  capacity:
    storage: %s
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef:
    namespace: %s
    name: %s
  hostPath:
    path: %s
    type: Directory
`, name, testLabel, size, namespace, claim, path)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls cond every half second until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// dump logs what the namespace holds, for a failed test.
func (c *cluster) dump() {
	for _, args := range [][]string{
		{"get", "all,pvc,events", "-n", namespace, "-o", "wide"},
		{"get", "pv"},
		{"logs", "-n", namespace, "-l", "app.kubernetes.io/name=slipway", "--all-containers", "--prefix", "--tail=60"},
	} {
		out, _ := c.tryKubectl(args...)
		c.t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
}

func TestDeployOnCluster(t *testing.T) {
	c := openCluster(t)
	t0 := time.Now()
	loadImages(t, repoRoot(t))
	c.removeLeftovers()
	api := startProxy(t, "api", fixedTarget(c.apiAddr))
	srv := startProxy(t, "slipway-server", serviceTarget(c.cs, namespace, "slipway-server", "http"))
	db := startProxy(t, "slipway-postgres", serviceTarget(c.cs, namespace, "slipway-postgres", "postgres"))
	serverDir, dbDir := volumeDirs(t)
	overlay := writeOverlay(t, api.port(), srv.port(), db.port(), serverDir, dbDir)
	tornDown := false
	t.Cleanup(func() {
		if t.Failed() {
			c.dump()
		}
		if !tornDown {
			c.forceDelete()
		}
	})
	t.Logf("images built and loaded in %s", time.Since(t0).Round(time.Second))

	t1 := time.Now()
	c.kubectl("apply", "-k", overlay)
	c.kubectl("-n", namespace, "rollout", "status", "statefulset/slipway-postgres", "--timeout=3m")
	c.kubectl("-n", namespace, "rollout", "status", "statefulset/slipway-server", "--timeout=3m")
	c.kubectl("-n", namespace, "rollout", "status", "deployment/slipway-runner", "--timeout=3m")
	t.Logf("deployed and ready in %s", time.Since(t1).Round(time.Second))

	token, err := os.ReadFile(filepath.Join(serverDir, "admin.token"))
	if err != nil {
		t.Fatalf("the server wrote no admin token on its volume: %v", err)
	}
	url := fmt.Sprintf("http://%s:%d", nodeIP, srv.port())
	cl := &client.Client{URL: url, Token: strings.TrimSpace(string(token))}
	push := func(slug, ciYAML string) {
		t.Helper()
		if _, err := cl.AddRepo(context.Background(), slug); err != nil {
			t.Fatal(err)
		}
		pushRepo(t, strings.Replace(url, "://", "://admin:"+cl.Token+"@", 1)+"/"+slug+".git", ciYAML)
	}

	// A GitLab job with a Redis service, on the Kubernetes executor.
	t2 := time.Now()
	push("e2e/redis", `
redis:
  image: redis:7.0
  services:
  - redis:7.0
  variables:
    HEALTHCHECK_TCP_PORT: "6379"
  script:
  - redis-cli -h redis set deployed yes
  - test "$(redis-cli -h redis get deployed)" = yes
  - echo "in pod $(hostname)"
`)
	b := waitBuild(t, cl, "e2e/redis", 1, 3*time.Minute)
	log := jobLog(t, cl, "e2e/redis", 1, 1)
	if b.Status != "success" {
		t.Fatalf("build e2e/redis#1: %s, want success; log:\n%s", b.Status, log)
	}
	// The job ran in a pod of the engine (slipway-<run>-<key>), taken by
	// a runner pod.
	if !strings.Contains(log, "in pod slipway-") || len(runnerNames(log)) != 1 {
		t.Errorf("the job did not run in a job pod taken by a runner pod:\n%s", log)
	}
	t.Logf("the Redis job passed in %s", time.Since(t2).Round(time.Second))

	// Two runners, two jobs at once, and the server killed meanwhile.
	t3 := time.Now()
	c.kubectl("-n", namespace, "scale", "deployment/slipway-runner", "--replicas=2")
	c.kubectl("-n", namespace, "rollout", "status", "deployment/slipway-runner", "--timeout=3m")
	slow := `
  image: busybox:1.35
  script:
  - for i in $(seq 1 40); do echo "tick $i"; sleep 1; done
`
	push("e2e/slow", "a:"+slow+"b:"+slow)
	waitFor(t, 2*time.Minute, "both jobs of e2e/slow#1 running", func() (bool, error) {
		b, err := cl.Build(context.Background(), "e2e/slow", 1)
		if err != nil {
			return false, err
		}
		n := 0
		for _, j := range b.Jobs {
			if j.Status == "running" {
				n++
			}
		}
		return n == 2, nil
	})
	time.Sleep(2 * time.Second)
	killServer(t, c)
	b = waitBuild(t, cl, "e2e/slow", 1, 3*time.Minute)
	logA, logB := jobLog(t, cl, "e2e/slow", 1, 1), jobLog(t, cl, "e2e/slow", 1, 2)
	if b.Status != "success" {
		t.Fatalf("build e2e/slow#1: %s, want success; logs:\n%s\n%s", b.Status, logA, logB)
	}
	for _, l := range []string{logA, logB} {
		if !strings.Contains(l, "tick 40\n") {
			t.Errorf("a job's log lacks its end:\n%s", l)
		}
	}
	if a, b := runnerNames(logA), runnerNames(logB); len(a) != 1 || len(b) != 1 || a[0] == b[0] {
		t.Errorf("the two jobs did not run on two runners: %v and %v", a, b)
	}
	t.Logf("two runners finished their jobs across a server restart in %s", time.Since(t3).Round(time.Second))

	// A runner pod deleted outright mid-job: its job's pod goes with it.
	push("e2e/orphan", `
orphan:
  image: busybox:1.35
  script:
  - echo "started $((6*7))"
  - sleep 600
`)
	killRunnerMidJob(t, c, cl, "e2e/orphan")

	// Teardown: nothing may be left.
	t4 := time.Now()
	tornDown = true
	c.kubectl("delete", "-k", overlay, "--wait", "--timeout=3m")
	c.checkNothingLeft()
	t.Logf("torn down in %s; %s in all", time.Since(t4).Round(time.Second), time.Since(t0).Round(time.Second))
}

// killServer deletes the server's pod at once and waits until its
// replacement is ready.
func killServer(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	pods := c.cs.CoreV1().Pods(namespace)
	old, err := pods.Get(ctx, "slipway-server-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	// One second of grace, then SIGKILL; none (force) would let the
	// StatefulSet start the next pod before this one is gone.
	grace := int64(1)
	if err := pods.Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "a new server pod ready", func() (bool, error) {
		p, err := pods.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.UID != old.UID && podReady(p), nil
	})
	t.Logf("killed the server pod mid-build; its replacement was ready after %s", time.Since(t0).Round(time.Second))
}

// killRunnerMidJob force-deletes (no grace) the runner pod running the
// only job of slug's first build, as a lost node or `kubectl delete
// --force` does, and waits until the garbage collector has deleted the
// job's pod, which that runner pod owns: no runner can tell that the
// runner of another pod is gone, so nothing else would.
func killRunnerMidJob(t *testing.T, c *cluster, cl *client.Client, slug string) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now()
	var runner string
	waitFor(t, 2*time.Minute, "the job of "+slug+"#1 running its script", func() (bool, error) {
		var buf bytes.Buffer
		if err := cl.Log(ctx, slug, 1, 1, &buf); err != nil {
			return false, err
		}
		names := runnerNames(buf.String())
		if len(names) == 1 && strings.Contains(buf.String(), "started 42\n") {
			runner = names[0]
			return true, nil
		}
		return false, fmt.Errorf("log so far: %q", buf.String())
	})
	pods := c.cs.CoreV1().Pods(namespace)
	owner, err := pods.Get(ctx, runner, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the job's runner pod %s: %v", runner, err)
	}
	jobs, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "slipway.role=pod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 {
		t.Fatalf("%d job pods, want 1: %s", len(jobs.Items), podList(jobs.Items))
	}
	job := jobs.Items[0]
	if refs := job.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Pod" || refs[0].Name != runner || refs[0].UID != owner.UID {
		t.Fatalf("the job's pod %s is owned by %+v, not by its runner pod %s (%s)", job.Name, refs, runner, owner.UID)
	}
	grace := int64(0)
	if err := pods.Delete(ctx, runner, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	waitFor(t, 90*time.Second, "the job's pod "+job.Name+" deleted with its runner pod "+runner, func() (bool, error) {
		left, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range left.Items {
			if p.UID == job.UID {
				return false, fmt.Errorf("pods left: %s", podList(left.Items))
			}
		}
		return true, nil
	})
	t.Logf("force-deleted the runner pod %s %s into its job; its job's pod was gone %s later",
		runner, t1.Sub(t0).Round(time.Second), time.Since(t1).Round(time.Second))
}

// podList names pods with their phase, deletion and owners, for errors.
func podList(ps []corev1.Pod) string {
	var out []string
	for _, p := range ps {
		s := p.Name + " (" + string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			s += ", being deleted"
		}
		for _, o := range p.OwnerReferences {
			s += ", owned by " + o.Kind + " " + o.Name
		}
		out = append(out, s+")")
	}
	return strings.Join(out, ", ")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitGone waits until the namespace and the test's volumes are gone.
func (c *cluster) waitGone() {
	t := c.t
	t.Helper()
	ctx := context.Background()
	waitFor(t, 3*time.Minute, "the namespace gone", func() (bool, error) {
		_, err := c.cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	waitFor(t, time.Minute, "the test's persistent volumes gone", func() (bool, error) {
		pvs, err := c.cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: testLabel})
		return err == nil && len(pvs.Items) == 0, err
	})
}

// checkNothingLeft: the namespace, the volumes and every container of
// the namespace's pods (the jobs' among them) are gone.
func (c *cluster) checkNothingLeft() {
	t := c.t
	c.waitGone()
	sock := filepath.Join(cmp.Or(os.Getenv("SLIPWAY_K8S_RUN"), "/run/slipway-k8s"), "containerd.sock")
	waitFor(t, time.Minute, "no container of the namespace in the cluster's containerd", func() (bool, error) {
		out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "containers", "ls", "-q",
			`labels."io.kubernetes.pod.namespace"==`+namespace).CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("ctr: %v: %s", err, out)
		}
		return len(bytes.TrimSpace(out)) == 0, fmt.Errorf("left: %s", bytes.TrimSpace(out))
	})
}

// pushRepo pushes a repository holding .gitlab-ci.yml to url.
func pushRepo(t *testing.T, url, ciYAML string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".gitlab-ci.yml"), ciYAML)
	git := func(args ...string) {
		t.Helper()
		run(t, dir, nil, "git", append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@localhost"}, args...)...)
	}
	git("init", "--quiet", "--initial-branch=main")
	git("add", ".")
	git("commit", "--quiet", "-m", "e2e")
	git("push", "--quiet", url, "main")
}

// waitBuild waits until build n of slug has ended. The server may be
// away meanwhile (it is killed): errors only delay.
func waitBuild(t *testing.T, cl *client.Client, slug string, n int64, timeout time.Duration) client.Build {
	t.Helper()
	var b client.Build
	waitFor(t, timeout, fmt.Sprintf("build %s#%d ended", slug, n), func() (bool, error) {
		var err error
		b, err = cl.Build(context.Background(), slug, n)
		if err != nil {
			return false, err
		}
		switch b.Status {
		case "success", "failure", "error", "killed":
			return true, nil
		}
		return false, fmt.Errorf("status %s", b.Status)
	})
	return b
}

func jobLog(t *testing.T, cl *client.Client, slug string, n int64, job int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := cl.Log(context.Background(), slug, n, job, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// runnerNames are the runners a job's log says it ran on (the runner's
// first line names it: the pod's name).
func runnerNames(log string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`Running with slipway runner \S+ on (\S+)`).FindAllStringSubmatch(log, -1) {
		names = append(names, m[1])
	}
	return names
}
