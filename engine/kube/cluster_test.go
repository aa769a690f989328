package kube

// Tests on a real cluster: scripts/k8s-cluster.sh up, then
//
//	eval "$(scripts/k8s-cluster.sh env)"; SLIPWAY_K8S=1 go test ./engine/kube -run Cluster
//
// They drive runner.Runner with this engine, as slipway exec will, with
// the images the cluster's containerd has (busybox:1.35, debian:bookworm,
// redis:7.0, postgres:15) and, for private images, the test registry of
// scripts/registry.sh on 127.0.0.1:5000. They run one after the other:
// the cluster shares two cores with everything else.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
	"github.com/slipway-ci/slipway/runner"
)

const testNamespace = "slipway-test"

// clusterConfig is the engine configuration of the tests; it skips the
// test unless SLIPWAY_K8S=1.
func clusterConfig(t *testing.T) Config {
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
	cfg := Config{Kubeconfig: kc, Namespace: testNamespace, PollTimeout: 90 * time.Second}
	// The cluster's images come from the local Docker Engine: it tells
	// their exposed ports.
	if d, err := docker.New(); err == nil && d.Ping(context.Background()) == nil {
		cfg.Images = d
	}
	return cfg
}

func clusterEngine(t *testing.T, mod ...func(*Config)) *Engine {
	t.Helper()
	cfg := clusterConfig(t)
	for _, m := range mod {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := prepareNamespace(e); err != nil {
		t.Fatal(err)
	}
	return e
}

// prepareNamespace makes the test namespace (kept between runs) and
// waits for its default service account, which pods need.
func prepareNamespace(e *Engine) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Ping(ctx); err != nil {
		return err
	}
	// Namespaces are outside the engine's client: a clientset, in tests only.
	cs, err := kubernetes.NewForConfig(e.rest)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for {
		if _, err := cs.CoreV1().ServiceAccounts(testNamespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s has no default service account: is kube-controller-manager running?", testNamespace)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// syncBuffer is written by the runner and read by the test meanwhile.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ran is one finished pipeline run.
type ran struct {
	res   runner.Result
	out   string
	took  time.Duration
	runID string
}

func (r ran) job(t *testing.T, name string) runner.JobResult {
	t.Helper()
	for _, j := range r.res.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q in %+v\n%s", name, r.res.Jobs, r.out)
	return runner.JobResult{}
}

type runOpts struct {
	secrets map[string]string
	env     []string // runner configuration environment
	grace   time.Duration
	svcWait time.Duration
	// during is called with the output so far until it returns true.
	during  func(out string) bool
	cancel  bool // cancel the run once during returned true
	kill    bool // and then kill at once (a second Ctrl-C)
	trusted bool
}

// runPipeline writes file into a fresh checkout (with main.go beside it)
// and runs it with the engine, as slipway exec would; it then checks that
// the run left nothing in the namespace.
func runPipeline(t *testing.T, e *Engine, file, content string, o runOpts) ran {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "group", "project")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	for name, data := range map[string]string{file: content, "main.go": "package main\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := dialect.Load(path, dialect.Options{ProjectPath: dialect.ProjectPath(dir)})
	if err != nil {
		t.Fatal(err)
	}
	pl, _, err := plan.Prepare(p, config.Runner{Environment: o.env}, plan.Options{Secrets: o.secrets, Trusted: o.trusted})
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	out := &syncBuffer{}
	kill := make(chan struct{})
	host, _ := os.Hostname()
	runID := hex.EncodeToString(id)
	r := &runner.Runner{
		Engine: e, Engines: map[pipeline.Target]engine.Engine{pipeline.TargetKubernetes: e},
		Owner:          fmt.Sprintf("%s:%d", host, os.Getpid()),
		ServiceTimeout: o.svcWait, StopGrace: o.grace, Kill: kill,
	}
	if r.StopGrace == 0 {
		r.StopGrace = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if o.during != nil {
		go func() {
			for !o.during(out.String()) {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			if o.cancel {
				cancel()
			}
			if o.kill {
				close(kill)
			}
		}()
	}
	start := time.Now()
	res := r.Run(ctx, pl, runner.Options{ID: runID, Workspace: dir, Events: runner.NewPrinter(out)})
	rn := ran{res: res, out: out.String(), took: time.Since(start), runID: runID}
	t.Logf("run %s took %s:\n%s", runID, rn.took.Round(10*time.Millisecond), rn.out)
	assertNothingLeft(t, e, runID)
	return rn
}

// assertNothingLeft requires that no pod or secret of the run remains.
func assertNothingLeft(t *testing.T, e *Engine, runID string) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: engine.LabelRun + "=" + labelValue(runID)}
	pods, err := e.core.Pods(e.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := e.core.Secrets(e.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pods.Items) + len(secrets.Items); n != 0 {
		t.Errorf("run %s left %d pods and %d secrets in namespace %s", runID, len(pods.Items), len(secrets.Items), e.ns)
	}
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("output has %q", b)
		}
	}
}

func TestClusterDroneStepsInOrder(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: build
  image: busybox:1.35
  environment:
    TARGET: linux
  commands:
  - echo "building for $TARGET in $(pwd)"
  - ls
  - echo "made by build" > artifact.txt
  - echo to-stderr >&2
- name: test
  image: busybox:1.35
  commands:
  - cat artifact.txt
  - echo testing
  - false
  - echo never
- name: deploy
  image: busybox:1.35
  commands:
  - echo deploying
`, runOpts{})
	j := r.job(t, "default")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "test exited with code 1") {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "+ echo \"building for $TARGET in $(pwd)\"\n", "building for linux in /drone/src\n", "main.go\n",
		"to-stderr\n", "made by build\n", "testing\n", "+ false\n")
	mustNotContain(t, r.out, "never\n", "deploying\n")
	if i, k := strings.Index(r.out, "building for linux"), strings.Index(r.out, "testing\n"); i < 0 || k < i {
		t.Error("the steps' output is out of order")
	}
}

func TestClusterDroneServicesOnLocalhostAndByName(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: test
  image: debian:bookworm
  commands:
  - redis-cli -h 127.0.0.1 set k v
  - redis-cli -h cache get k
  - PGPASSWORD=mysecretpassword psql -h localhost -U postgres -tAc "select 'pg' || 'ok'"
  - PGPASSWORD=mysecretpassword psql -h database -U postgres -tAc "select 'by' || 'name'"
services:
- name: cache
  image: redis:7.0
- name: database
  image: postgres:15
  environment:
    POSTGRES_USER: postgres
    POSTGRES_PASSWORD: mysecretpassword
`, runOpts{})
	if j := r.job(t, "default"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "OK\n", "v\n", "pgok\n", "byname\n")
	mustNotContain(t, r.out, "WARNING")
}

func TestClusterGitLabJobWithServiceAliases(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
image: debian:bookworm
variables:
  GREETING: hello
test:
  services:
  - name: redis:7.0
    alias: cache,My-Cache
  before_script:
  - echo "$GREETING in $(pwd)"
  script:
  - echo "shell is ${BASH_VERSION:+bash}"
  - redis-cli -h cache ping
  - redis-cli -h redis ping
  - redis-cli -h my-cache ping
  - test -f main.go
  after_script:
  - echo "after, still in $(pwd)"
`, runOpts{})
	if j := r.job(t, "test"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "$ redis-cli -h cache ping\nPONG\n", "$ redis-cli -h redis ping\nPONG\n", "$ redis-cli -h my-cache ping\nPONG\n", "hello in /builds/group/project\n",
		"shell is bash\n", "after, still in /builds/group/project\n")
}

func TestClusterGitLabFailingScriptRunsAfterScript(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
fails:
  image: busybox:1.35
  script:
  - echo before
  - exit 3
  - echo never
  after_script:
  - echo cleaning up
`, runOpts{})
	if j := r.job(t, "fails"); j.Status != runner.Failed || !strings.Contains(j.Reason, "exited with code 3") {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "before\n", "cleaning up\n")
	mustNotContain(t, r.out, "never\n")
}

// registry is scripts/registry.sh's test registry.
type registry struct{ addr, user, password string }

func testRegistry(t *testing.T) registry {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return registry{get("SLIPWAY_TEST_REGISTRY", "127.0.0.1:5000"), get("SLIPWAY_TEST_REGISTRY_USER", "slipway"),
		get("SLIPWAY_TEST_REGISTRY_PASSWORD", "slipway-test-pw")}
}

func (r registry) config(password string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + password))
	return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.addr, auth)
}

// pushPrivate pushes an image of the test's own (busybox with a unique
// label) to the test registry and returns its reference; the cluster's
// node has never seen it.
func pushPrivate(t *testing.T) string {
	t.Helper()
	reg := testRegistry(t)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	ref := fmt.Sprintf("%s/private/kube-test:%s", reg.addr, hex.EncodeToString(id))
	dir := t.TempDir()
	docker := func(args ...string) {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(reg.config(reg.password)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox:1.35\nLABEL slipway.test="+ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docker("build", "-q", "-t", ref, dir)
	docker("push", ref)
	docker("rmi", ref)
	return ref
}

func privatePipeline(ref, pull string, secrets bool) string {
	s := "kind: pipeline\ntype: kubernetes\nname: private\n"
	if secrets {
		s += "image_pull_secrets:\n- dockerconfig\n"
	}
	s += "steps:\n- name: run\n  image: " + ref + "\n"
	if pull != "" {
		s += "  pull: " + pull + "\n"
	}
	return s + "  commands:\n  - echo private image works\n"
}

func TestClusterPrivateImageWithCredentials(t *testing.T) {
	e := clusterEngine(t)
	reg := testRegistry(t)
	ref := pushPrivate(t)
	good := map[string]string{"dockerconfig": reg.config(reg.password)}

	r := runPipeline(t, e, ".drone.yml", privatePipeline(ref, "", true), runOpts{secrets: good})
	if j := r.job(t, "private"); j.Status != runner.Passed {
		t.Fatalf("job %+v", j)
	}
	mustContain(t, r.out, "Image "+ref+" will be pulled with credentials from", "private image works\n")
	mustNotContain(t, r.out, reg.password)

	// The node now has the image. A pipeline without the credentials must
	// not use it from the node's cache (the kubelet checks that a pod may
	// use an image pulled with credentials: KubeletEnsureSecretPulledImages).
	r = runPipeline(t, e, ".drone.yml", privatePipeline(ref, "if-not-exists", false), runOpts{})
	j := r.job(t, "private")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "cannot pull image "+ref) {
		t.Errorf("without credentials: job %+v", j)
	}
	mustNotContain(t, r.out, "private image works")

	// Wrong credentials fail, with the registry's reason, in bounded time.
	bad := map[string]string{"dockerconfig": reg.config("wrong-password")}
	r = runPipeline(t, e, ".drone.yml", privatePipeline(ref, "", true), runOpts{secrets: bad})
	j = r.job(t, "private")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "cannot pull image "+ref) || !strings.Contains(strings.ToLower(j.Reason), "unauthorized") {
		t.Errorf("wrong credentials: job %+v", j)
	}
	mustNotContain(t, r.out, "wrong-password", "private image works")
}

func TestClusterPrivateServiceImage(t *testing.T) {
	e := clusterEngine(t)
	reg := testRegistry(t)
	ref := pushPrivate(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
job:
  image: busybox:1.35
  services:
  - name: `+ref+`
    alias: helper
    command: ["sh", "-c", "echo service up; sleep 600"]
  script:
  - echo job ran
`, runOpts{env: []string{"DOCKER_AUTH_CONFIG=" + reg.config(reg.password)}})
	if j := r.job(t, "job"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "job ran\n")
}

func TestClusterImageThatCannotBePulled(t *testing.T) {
	e := clusterEngine(t)
	reg := testRegistry(t)
	missing := reg.addr + "/private/does-not-exist:1"
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: first
  image: busybox:1.35
  commands:
  - echo first ran
- name: missing
  image: `+missing+`
  commands:
  - echo never
`, runOpts{})
	j := r.job(t, "default")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "cannot pull image "+missing) {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "first ran\n")
	if r.took > time.Minute {
		t.Errorf("the failed pull took %s", r.took)
	}

	// A service's image: Setup fails, naming the service.
	r = runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: test
  image: busybox:1.35
  commands:
  - echo never
services:
- name: db
  image: registry.invalid/nothing:1
`, runOpts{})
	j = r.job(t, "default")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "service db: cannot pull image registry.invalid/nothing:1") {
		t.Errorf("job %+v", j)
	}
	if r.took > time.Minute {
		t.Errorf("the failed pull took %s", r.took)
	}
}

func TestClusterCancelStopsTheStep(t *testing.T) {
	e := clusterEngine(t)
	var canceledAt time.Time
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: long
  image: busybox:1.35
  commands:
  - echo started
  - sleep 300
  - echo never
- name: after
  image: busybox:1.35
  commands:
  - echo never either
`, runOpts{grace: 20 * time.Second, cancel: true, during: func(out string) bool {
		if strings.Contains(out, "started\n") {
			canceledAt = time.Now()
			return true
		}
		return false
	}})
	if j := r.job(t, "default"); j.Status != runner.Canceled {
		t.Errorf("job %+v", j)
	}
	mustNotContain(t, r.out, "never")
	// SIGTERM ends sh at once: well within the grace period, with the
	// pod's deletion.
	if d := time.Since(canceledAt); d > 15*time.Second {
		t.Errorf("the cancel took %s", d)
	}
}

func TestClusterGitLabCancelStillRunsAfterScript(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
job:
  image: debian:bookworm
  services:
  - redis:7.0
  script:
  - echo started
  - sleep 300
  - echo never
  after_script:
  - echo "after_script ran; redis says $(redis-cli -h redis ping)"
`, runOpts{grace: 20 * time.Second, cancel: true, during: func(out string) bool { return strings.Contains(out, "started\n") }})
	if j := r.job(t, "job"); j.Status != runner.Canceled {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "after_script ran; redis says PONG\n")
	mustNotContain(t, r.out, "never\n")
}

func TestClusterKillEndsAStepThatIgnoresSIGTERM(t *testing.T) {
	e := clusterEngine(t)
	var killedAt time.Time
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
steps:
- name: stubborn
  image: busybox:1.35
  commands:
  - trap 'echo got TERM' TERM
  - echo started
  - while :; do sleep 1; done
`, runOpts{grace: time.Minute, cancel: true, kill: true, during: func(out string) bool {
		if strings.Contains(out, "started\n") {
			killedAt = time.Now()
			return true
		}
		return false
	}})
	if j := r.job(t, "default"); j.Status != runner.Canceled {
		t.Errorf("job %+v", j)
	}
	if d := time.Since(killedAt); d > 20*time.Second {
		t.Errorf("the kill took %s (grace was a minute)", d)
	}
}

func TestClusterServiceThatNeverListensGetsAWarning(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
job:
  image: busybox:1.35
  services:
  - name: busybox:1.35
    alias: deaf
    command: ["sh", "-c", "echo deaf service says hi; sleep 600"]
  variables:
    HEALTHCHECK_TCP_PORT: "7777"
  script:
  - echo job ran anyway
`, runOpts{svcWait: 3 * time.Second})
	if j := r.job(t, "job"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "*** WARNING: Service deaf probably didn't start properly.", "port 7777 did not accept connections",
		"deaf service says hi", "job ran anyway\n")
}

func TestClusterServiceThatExitsAtOnce(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".gitlab-ci.yml", `
job:
  image: busybox:1.35
  services:
  - name: busybox:1.35
    alias: broken
    command: ["sh", "-c", "echo database is uninitialized; exit 1"]
  script:
  - echo job ran
`, runOpts{svcWait: 5 * time.Second})
	j := r.job(t, "job")
	// The kubelet holds the pod's later containers until a sidecar runs:
	// a service that exits at once fails the job, with its output, where
	// the Docker engine warns and goes on. If the kubelet saw it running,
	// the runner warns as on Docker.
	switch {
	case j.Status == runner.Failed:
		if !strings.Contains(j.Reason, "exited with code 1 before the job's steps could start") || !strings.Contains(j.Reason, "database is uninitialized") {
			t.Errorf("job %+v", j)
		}
	case j.Status == runner.Passed:
		// The service is named for its alias. The warning comes from the
		// start-up probe, or from the watch while the steps run (a
		// restarted sidecar that exits again).
		mustContain(t, r.out, "*** WARNING: Service broken ", "exited with code 1", "database is uninitialized")
	default:
		t.Errorf("job %+v", j)
	}
	if r.took > time.Minute {
		t.Errorf("took %s", r.took)
	}
}

func TestClusterTempVolumeSharedBySteps(t *testing.T) {
	e := clusterEngine(t)
	r := runPipeline(t, e, ".drone.yml", `
kind: pipeline
type: kubernetes
name: default
volumes:
- name: cache
  temp: {}
steps:
- name: write
  image: busybox:1.35
  volumes:
  - name: cache
    path: /cache
  commands:
  - echo kept > /cache/x
- name: read
  image: debian:bookworm
  volumes:
  - name: cache
    path: /cache
  commands:
  - cat /cache/x
`, runOpts{})
	if j := r.job(t, "default"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "+ cat /cache/x\nkept\n")
}

// TestClusterPrivilegedStep: privileged and cap_add reach the pod's
// security context (the bits of CapEff show it; NET_ADMIN is bit 12).
func TestClusterPrivilegedStep(t *testing.T) {
	e := clusterEngine(t)
	steps := `
kind: pipeline
type: kubernetes
name: default
steps:
- name: plain
  image: busybox:1.35
  commands:
  - grep CapEff /proc/self/status
  - mkdir -p /mnt/t && mount -t tmpfs none /mnt/t 2>/dev/null && echo plain can || echo plain cannot
  - c=$(grep CapEff /proc/self/status | cut -f2); [ $(( 0x$c & 0x1000 )) -eq 0 ] && echo plain has no NET_ADMIN
- name: net-admin
  image: busybox:1.35
  cap_add: [NET_ADMIN]
  commands:
  - c=$(grep CapEff /proc/self/status | cut -f2); [ $(( 0x$c & 0x1000 )) -ne 0 ] && echo cap_add gave NET_ADMIN
- name: privileged
  image: busybox:1.35
  privileged: true
  commands:
  - grep CapEff /proc/self/status
  - mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo privileged can
`
	r := runPipeline(t, e, ".drone.yml", steps, runOpts{trusted: true})
	if j := r.job(t, "default"); j.Status != runner.Passed {
		t.Errorf("job %+v", j)
	}
	mustContain(t, r.out, "plain cannot\n", "plain has no NET_ADMIN\n", "cap_add gave NET_ADMIN\n", "privileged can\n")
}

func TestClusterUnschedulablePodSaysWhy(t *testing.T) {
	e := clusterEngine(t, func(c *Config) {
		c.NodeSelector = map[string]string{"slipway.test/nowhere": "true"}
		c.PollTimeout = 5 * time.Second
	})
	r := runPipeline(t, e, ".drone.yml", "kind: pipeline\ntype: kubernetes\nname: default\nsteps:\n- name: x\n  image: busybox:1.35\n  commands:\n  - echo never\n", runOpts{})
	j := r.job(t, "default")
	if j.Status != runner.Failed || !strings.Contains(j.Reason, "cannot be scheduled") || !strings.Contains(j.Reason, "node") {
		t.Errorf("job %+v", j)
	}
}

func TestClusterResourcesAndWorkspace(t *testing.T) {
	e := clusterEngine(t, func(c *Config) {
		c.Requests = map[string]string{"cpu": "50m", "memory": "64Mi"}
		c.Limits = map[string]string{"memory": "256Mi"}
	})
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "sub", "file.txt"), []byte("in the checkout\n"), 0o644)
	_ = os.Symlink("sub/file.txt", filepath.Join(dir, "link"))
	host, _ := os.Hostname()
	s := &engine.Spec{RunID: "res" + randomHex(4), Key: "j0-0",
		Owner: fmt.Sprintf("%s:%d", host, os.Getpid()), WorkspaceDir: dir, WorkspacePath: "/work/space"}
	defer func() {
		if err := e.Destroy(ctx, s); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, e, s.RunID)
	}()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	p, err := e.core.Pods(e.ns).Get(ctx, podName(s), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Resources == nil || p.Spec.Resources.Limits.Memory().String() != "256Mi" {
		t.Errorf("pod-level resources were dropped (PodLevelResources off?): %+v", p.Spec.Resources)
	}
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: "docker.io/library/busybox:1.35",
		Entrypoint: []string{"/bin/sh"}, Stdin: []byte("cat link; pwd; echo \"home is $HOME\"\n"),
		WorkingDir: "/work/space", Env: []string{"HOME=/root"}}, &out, &out)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v\n%s", code, err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "in the checkout\n") || !strings.Contains(got, "/work/space\n") || !strings.Contains(got, "home is /root\n") {
		t.Errorf("output %q", got)
	}
}

func TestClusterCollectRemovesRunsOfDeadOwners(t *testing.T) {
	e := clusterEngine(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	s := &engine.Spec{RunID: "dead" + randomHex(4), Key: "j0-0",
		Owner: fmt.Sprintf("%s:%d", host, deadPid(t)), WorkspacePath: "/w"}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.forget(s).stopWatch() // as if the process had been killed
	n, err := e.Collect(ctx)
	if err != nil || n < 1 {
		t.Errorf("Collect = %d, %v", n, err)
	}
	assertNothingLeft(t, e, s.RunID)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
