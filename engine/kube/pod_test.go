package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/slipway-ci/slipway/engine"
)

// ports is an ImageInspector with fixed answers.
type ports map[string][]int

func (p ports) ImageInfo(_ context.Context, ref string) (engine.ImageInfo, error) {
	if ps, ok := p[ref]; ok {
		return engine.ImageInfo{ExposedTCPPorts: ps}, nil
	}
	return engine.ImageInfo{}, fmt.Errorf("%s: %w", ref, engine.ErrImageNotFound)
}

func newFakeEngine(t *testing.T, cfg Config) (*Engine, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset()
	if cfg.Images == nil {
		cfg.Images = ports{"docker.io/library/redis:7.0": {6379}, "docker.io/library/postgres:15": {5432}}
	}
	e, err := newEngine(fakeCore{cs}, nil, "ci", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, cs
}

func testSpec() *engine.Spec {
	return &engine.Spec{
		RunID: "0123456789ab", Key: "j0-1", Owner: "build-host:4242",
		Network: engine.NetworkShared, Aliases: []string{"cache", "db"},
		WorkspaceDir: "/tmp/checkout", WorkspacePath: "/drone/src",
		Services: []*engine.Container{
			{Name: "svc-cache", Image: "docker.io/library/redis:7.0", Env: []string{"CI=true", "TOKEN=s3cr3t-$(HOME)"},
				Aliases: []string{"cache", "tutum__wordpress"}, Pull: &engine.Pull{Policy: engine.PullIfNotPresent},
				Mounts: []engine.Mount{{Source: "cache-vol", Target: "/cache"}, {Source: "/srv/shared", Target: "/shared", ReadOnly: true}}},
			{Name: "svc-db", Image: "127.0.0.1:5000/private/postgres:15", Env: []string{"CI=true", "HEALTHCHECK_TCP_PORT=5432"},
				Aliases: []string{"db", "Bad Name!", "MixedCase"},
				Pull:    &engine.Pull{Auth: &engine.RegistryAuth{Registry: "127.0.0.1:5000", Username: "slipway", Password: "pw"}}},
		},
	}
}

func build(t *testing.T, e *Engine, s *engine.Spec) (*job, *podParts) {
	t.Helper()
	j := e.newJob(s)
	for _, c := range s.Services {
		kn := j.containerName(c.Name)
		if p := e.probePort(context.Background(), c); p > 0 {
			j.probePorts[kn] = p
		}
	}
	pp, err := j.buildPod(s)
	if err != nil {
		t.Fatal(err)
	}
	return j, pp
}

func TestPodLayout(t *testing.T) {
	e, _ := newFakeEngine(t, Config{Requests: map[string]string{"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"},
		Limits: map[string]string{"memory": "2Gi", "ephemeral-storage": "4Gi"}, NodeSelector: map[string]string{"ci": "yes"},
		ImagePullSecrets: []string{"corp-registry"}})
	s := testSpec()
	_, pp := build(t, e, s)
	pod := pp.pod

	if pod.Name != "slipway-0123456789ab-j0-1" || pod.Namespace != "ci" {
		t.Errorf("pod %s/%s", pod.Namespace, pod.Name)
	}
	for k, v := range pod.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s=%q: %v", k, v, errs)
		}
	}
	if pod.Labels[engine.LabelRun] != "0123456789ab" || pod.Annotations[annotationPrefix+"owner"] != "build-host:4242" ||
		pod.Annotations[annotationPrefix+"job"] != "0123456789ab/j0-1" {
		t.Errorf("labels %v annotations %v", pod.Labels, pod.Annotations)
	}
	sp := pod.Spec
	if sp.RestartPolicy != corev1.RestartPolicyNever || *sp.EnableServiceLinks || *sp.AutomountServiceAccountToken {
		t.Errorf("restart %s, service links %v, token %v", sp.RestartPolicy, *sp.EnableServiceLinks, *sp.AutomountServiceAccountToken)
	}
	if !reflect.DeepEqual(sp.NodeSelector, map[string]string{"ci": "yes"}) {
		t.Errorf("node selector %v", sp.NodeSelector)
	}
	if got := []string{sp.ImagePullSecrets[0].Name, sp.ImagePullSecrets[1].Name}; got[0] != pod.Name+"-pull" || got[1] != "corp-registry" {
		t.Errorf("image pull secrets %v", got)
	}
	// Host names: DNS names through hostAliases, lower-cased; the others
	// cannot be given.
	if len(sp.HostAliases) != 1 || sp.HostAliases[0].IP != "127.0.0.1" || !reflect.DeepEqual(sp.HostAliases[0].Hostnames, []string{"cache", "db", "mixedcase"}) {
		t.Errorf("host aliases %+v", sp.HostAliases)
	}
	if !reflect.DeepEqual(pp.dropped, []string{"tutum__wordpress", "Bad Name!"}) {
		t.Errorf("dropped host names %v", pp.dropped)
	}

	if len(sp.InitContainers) != 3 {
		t.Fatalf("%d init containers", len(sp.InitContainers))
	}
	init := sp.InitContainers[0]
	if init.Name != initName || init.Image != DefaultHelperImage || !init.Stdin || !init.StdinOnce || init.RestartPolicy != nil {
		t.Errorf("init container %+v", init)
	}
	if want := escape([]string{"sh", "-c", initScript, "slipway-init", "/drone/src"}); !reflect.DeepEqual(init.Command, want) {
		t.Errorf("init command %q", init.Command)
	}

	redis, pg := sp.InitContainers[1], sp.InitContainers[2]
	for _, c := range []corev1.Container{redis, pg} {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Errorf("%s is not a native sidecar", c.Name)
		}
		if c.StartupProbe != nil {
			t.Errorf("%s has a startup probe: the kubelet would hold the pod on it", c.Name)
		}
		if c.VolumeMounts[0].Name != workspaceVolume || c.VolumeMounts[0].MountPath != "/drone/src" {
			t.Errorf("%s mounts %+v", c.Name, c.VolumeMounts)
		}
		for _, ev := range c.Env {
			if ev.Value != "" || ev.ValueFrom == nil || ev.ValueFrom.SecretKeyRef.Name != pod.Name+"-env" {
				t.Errorf("%s: variable %s is not read from the job's secret: %+v", c.Name, ev.Name, ev)
			}
		}
	}
	if redis.Name != "svc-cache" || redis.ReadinessProbe.TCPSocket.Port.IntValue() != 6379 || redis.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("redis %s probe %+v policy %s", redis.Name, redis.ReadinessProbe, redis.ImagePullPolicy)
	}
	if pg.ReadinessProbe.TCPSocket.Port.IntValue() != 5432 || pg.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("postgres probe %+v policy %s (credentials: always)", pg.ReadinessProbe, pg.ImagePullPolicy)
	}
	// The variables' values are in the secret, not in the pod.
	for _, ev := range redis.Env {
		if ev.Name == "TOKEN" {
			if v := string(pp.env.Data[ev.ValueFrom.SecretKeyRef.Key]); v != "s3cr3t-$(HOME)" {
				t.Errorf("TOKEN is %q in the secret", v)
			}
		}
	}
	b, _ := json.Marshal(pod)
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), `"pw"`) {
		t.Errorf("a secret value is in the pod: %s", b)
	}
	// Volumes: workspace, a named volume as emptyDir, a host path.
	vols := map[string]corev1.Volume{}
	for _, v := range sp.Volumes {
		vols[v.Name] = v
	}
	if vols[workspaceVolume].EmptyDir == nil || vols["vol-cache-vol"].EmptyDir == nil || vols["host-"+shortHash("/srv/shared")].HostPath.Path != "/srv/shared" {
		t.Errorf("volumes %+v", sp.Volumes)
	}
	if m := redis.VolumeMounts; len(m) != 3 || m[1].MountPath != "/cache" || m[2].MountPath != "/shared" || !m[2].ReadOnly {
		t.Errorf("redis mounts %+v", m)
	}

	holder := sp.Containers[0]
	if len(sp.Containers) != 1 || holder.Name != holderName || holder.Image != DefaultHelperImage {
		t.Errorf("containers %+v", sp.Containers)
	}
	// cpu and memory at the pod (they bound the steps too), every request
	// on the holder, other limits on the holder.
	if sp.Resources == nil || sp.Resources.Requests.Cpu().String() != "500m" || sp.Resources.Limits.Memory().String() != "2Gi" {
		t.Errorf("pod resources %+v", sp.Resources)
	}
	if _, ok := sp.Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
		t.Errorf("ephemeral-storage at pod level: %+v", sp.Resources)
	}
	if holder.Resources.Requests.Memory().String() != "1Gi" || holder.Resources.Limits.StorageEphemeral().String() != "4Gi" || holder.Resources.Limits.Memory().String() != "0" {
		t.Errorf("holder resources %+v", holder.Resources)
	}

	// The pull secret: one entry per repository, as Docker writes it.
	if pp.pull.Type != corev1.SecretTypeDockerConfigJson {
		t.Errorf("pull secret type %s", pp.pull.Type)
	}
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(pp.pull.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
		t.Fatal(err)
	}
	want := dockerAuth{Username: "slipway", Password: "pw", Auth: base64.StdEncoding.EncodeToString([]byte("slipway:pw"))}
	if len(cfg.Auths) != 1 || cfg.Auths["127.0.0.1:5000/private/postgres"] != want {
		t.Errorf("pull secret %s", pp.pull.Data[corev1.DockerConfigJsonKey])
	}
}

func TestNoInitContainerWithoutWorkspace(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := &engine.Spec{RunID: "r", Key: "k", Owner: "h:1", WorkspacePath: "/w"}
	_, pp := build(t, e, s)
	if len(pp.pod.Spec.InitContainers) != 0 || pp.pod.Spec.HostAliases != nil || pp.pod.Spec.Resources != nil {
		t.Errorf("%+v", pp.pod.Spec)
	}
}

func TestServiceAccountMountsItsToken(t *testing.T) {
	e, _ := newFakeEngine(t, Config{ServiceAccount: "ci-builder"})
	_, pp := build(t, e, &engine.Spec{RunID: "r", Key: "k", Owner: "h:1"})
	if pp.pod.Spec.ServiceAccountName != "ci-builder" || !*pp.pod.Spec.AutomountServiceAccountToken {
		t.Errorf("%+v", pp.pod.Spec)
	}
}

// runnerPod is the pod a runner runs in, as its environment tells it.
var runnerPod = PodRef{Namespace: "ci", Name: "slipway-runner-7d9f-abcde", UID: "3f6c0a52-runner"}

// A job's pod created by a runner in a pod is owned by that pod, with a
// plain reference (controller or blockOwnerDeletion would need more
// RBAC); its secrets are owned by the job's pod once it exists.
func TestJobPodOwnedByTheRunnerPod(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: 5 * time.Second, OwnerPod: runnerPod})
	if !e.OwnsJobs() {
		t.Fatal("OwnsJobs = false for an owner pod in the engine's namespace")
	}
	s := setupRunning(t, e, cs)
	ctx := context.Background()
	pod, err := cs.CoreV1().Pods("ci").Get(ctx, podName(s), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: runnerPod.Name, UID: "3f6c0a52-runner"}}
	if !reflect.DeepEqual(pod.OwnerReferences, want) {
		t.Errorf("the job's pod's owners %+v, want %+v", pod.OwnerReferences, want)
	}
	secrets, _ := cs.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{LabelSelector: jobSelector(s)})
	for _, sec := range secrets.Items {
		if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID {
			t.Errorf("secret %s owners %+v, want the job's pod %s", sec.Name, sec.OwnerReferences, pod.UID)
		}
	}
	if len(secrets.Items) != 2 {
		t.Errorf("%d secrets", len(secrets.Items))
	}
}

// Without an owner pod, or with one in another namespace (an owner must
// be in its dependent's namespace: the garbage collector would take it
// for gone and delete the job's pod), a job's pod has no owner.
func TestJobPodWithoutOwner(t *testing.T) {
	other := runnerPod
	other.Namespace = "slipway"
	for _, cfg := range []Config{{}, {OwnerPod: other}} {
		e, _ := newFakeEngine(t, cfg)
		_, pp := build(t, e, testSpec())
		if e.OwnsJobs() || pp.pod.OwnerReferences != nil || pp.env.OwnerReferences != nil || pp.pull.OwnerReferences != nil {
			t.Errorf("owner pod %+v: OwnsJobs %v, owners of the pod %+v, of its secrets %+v %+v",
				cfg.OwnerPod, e.OwnsJobs(), pp.pod.OwnerReferences, pp.env.OwnerReferences, pp.pull.OwnerReferences)
		}
	}
}

func TestOwnerPodNeedsAllItsFields(t *testing.T) {
	for _, o := range []PodRef{{Name: "r", UID: "u"}, {Namespace: "ci", UID: "u"}, {Namespace: "ci", Name: "r"}} {
		if _, err := newEngine(fakeCore{fake.NewClientset()}, nil, "ci", Config{OwnerPod: o}); err == nil || !strings.Contains(err.Error(), "all three") {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

// Ping refuses an owner pod that is not there with its UID: the garbage
// collector would delete every job's pod as soon as it is created.
func TestPingChecksTheOwnerPod(t *testing.T) {
	e, cs := newFakeEngine(t, Config{OwnerPod: runnerPod})
	ctx := context.Background()
	if err := e.Ping(ctx); err == nil || !strings.Contains(err.Error(), "cannot read the owner") {
		t.Errorf("no owner pod: err = %v", err)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: runnerPod.Name, Namespace: "ci", UID: "an-earlier-pod"}}
	if _, err := cs.CoreV1().Pods("ci").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Ping(ctx); err == nil || !strings.Contains(err.Error(), "has UID an-earlier-pod, not 3f6c0a52-runner") {
		t.Errorf("another UID: err = %v", err)
	}
	p.UID = types.UID(runnerPod.UID)
	if _, err := cs.CoreV1().Pods("ci").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func TestPortClashInOnePod(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := &engine.Spec{RunID: "r", Key: "k", Network: engine.NetworkBridge, Services: []*engine.Container{
		{Name: "svc-a", Image: "docker.io/library/redis:7.0", Aliases: []string{"a"}},
		{Name: "svc-b", Image: "docker.io/library/redis:7.0", Aliases: []string{"b"}},
	}}
	j := e.newJob(s)
	for _, c := range s.Services {
		j.probePorts[j.containerName(c.Name)] = e.probePort(context.Background(), c)
	}
	if _, err := j.buildPod(s); err == nil || !strings.Contains(err.Error(), "both listen on port 6379") {
		t.Errorf("err = %v", err)
	}
	// A command may move the port: no clash then.
	s.Services[1].Cmd = []string{"redis-server", "--port", "6380"}
	j = e.newJob(s)
	for _, c := range s.Services {
		j.probePorts[j.containerName(c.Name)] = e.probePort(context.Background(), c)
	}
	if _, err := j.buildPod(s); err != nil {
		t.Error(err)
	}
}

func TestPullPolicy(t *testing.T) {
	auth := &engine.RegistryAuth{Registry: "r", Username: "u", Password: "p"}
	for _, tc := range []struct {
		img  string
		pull *engine.Pull
		want corev1.PullPolicy
	}{
		// The runner decides the policy (the latest rule included, see
		// runner.enginePolicy); the engine maps it.
		{"docker.io/library/busybox:1.35", nil, corev1.PullIfNotPresent},
		{"docker.io/library/busybox:1.35", &engine.Pull{Policy: engine.PullAlways}, corev1.PullAlways},
		{"docker.io/library/busybox:latest", &engine.Pull{Policy: engine.PullIfNotPresent}, corev1.PullIfNotPresent},
		{"docker.io/library/busybox:1.35", &engine.Pull{Policy: engine.PullNever}, corev1.PullNever},
		// Credentials: the registry checks them at every start...
		{"r/x:1", &engine.Pull{Auth: auth}, corev1.PullAlways},
		{"r/x:1", &engine.Pull{Policy: engine.PullIfNotPresent, Auth: auth}, corev1.PullAlways},
		// ...unless the pipeline said never.
		{"r/x:1", &engine.Pull{Policy: engine.PullNever, Auth: auth}, corev1.PullNever},
	} {
		if got := pullPolicy(tc.pull); got != tc.want {
			t.Errorf("pullPolicy(%s, %+v) = %s, want %s", tc.img, tc.pull, got, tc.want)
		}
	}
}

func TestCommandArgs(t *testing.T) {
	for _, tc := range []struct {
		ep, cmd       []string
		command, args []string
	}{
		{nil, nil, nil, nil},
		{nil, []string{"sh", "-c", "echo $HOME $(x)"}, nil, []string{"sh", "-c", "echo $$HOME $$(x)"}},
		{[]string{"/bin/sh"}, nil, []string{"/bin/sh"}, nil},
		{[]string{"/entry"}, []string{"a"}, []string{"/entry"}, []string{"a"}},
		{[]string{}, []string{"sh", "-c", "x"}, []string{"sh", "-c", "x"}, nil}, // cleared entrypoint
		{[]string{}, nil, nil, nil},
	} {
		c, a := commandArgs(&engine.Container{Entrypoint: tc.ep, Cmd: tc.cmd})
		if !reflect.DeepEqual(c, tc.command) || !reflect.DeepEqual(a, tc.args) {
			t.Errorf("commandArgs(%q, %q) = %q, %q; want %q, %q", tc.ep, tc.cmd, c, a, tc.command, tc.args)
		}
	}
}

func TestEnvVarsLastValueWins(t *testing.T) {
	env, data := envVars("sec", "p.", []string{"A=1", "B=x=y", "A=2", "=bad", "EMPTY="})
	var names []string
	for _, ev := range env {
		names = append(names, ev.Name+"="+string(data[ev.ValueFrom.SecretKeyRef.Key]))
	}
	if want := []string{"A=2", "B=x=y", "EMPTY="}; !reflect.DeepEqual(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
	for k := range data {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 || !strings.HasPrefix(k, "p.") {
			t.Errorf("key %q: %v", k, errs)
		}
	}
}

func TestNames(t *testing.T) {
	for _, v := range []string{"host:1234", "0123456789ab/j0-1", strings.Repeat("x", 100), "_", "a.b-c_d"} {
		l := labelValue(v)
		if errs := validation.IsValidLabelValue(l); len(errs) > 0 {
			t.Errorf("labelValue(%q) = %q: %v", v, l, errs)
		}
	}
	if labelValue("a/b") == labelValue("a-b") {
		t.Error("labelValue merges two values")
	}
	if labelValue("a.b-c_d") != "a.b-c_d" {
		t.Error("a valid value changed")
	}
	j := &job{names: map[string]string{}, taken: map[string]bool{holderName: true}}
	a, b, c := j.containerName("svc-My_DB"), j.containerName("svc-my-db"), j.containerName("svc-My_DB")
	if a == b || a != c {
		t.Errorf("container names %q %q %q", a, b, c)
	}
	for _, n := range []string{a, b, j.containerName(strings.Repeat("s", 80)), j.containerName("slipway-holder")} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 || n == holderName {
			t.Errorf("container name %q: %v", n, errs)
		}
	}
}

func TestStepContainer(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := testSpec()
	j, _ := build(t, e, s)
	j.uid = "uid-1"
	c := &engine.Container{Name: "step-0", Image: "docker.io/library/busybox:1.35", Cmd: []string{"sh", "-c", "detect"},
		Stdin: []byte("echo hi\n"), Env: []string{"CI=true", "SECRET=hunter22"}, WorkingDir: "/drone/src", Privileged: true,
		CapAdd: []string{"NET_ADMIN"},
		Mounts: []engine.Mount{{Source: "cache-vol", Target: "/cache"}}}
	ec, sec, err := j.stepParts(s, c, j.containerName(c.Name))
	if err != nil {
		t.Fatal(err)
	}
	if ec.TargetContainerName != holderName || !ec.Stdin || !ec.StdinOnce || ec.Command != nil || ec.WorkingDir != "/drone/src" ||
		!*ec.SecurityContext.Privileged || ec.SecurityContext.Capabilities.Add[0] != "NET_ADMIN" || ec.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("ephemeral container %+v", ec)
	}
	if len(ec.VolumeMounts) != 2 || ec.VolumeMounts[1].Name != "vol-cache-vol" {
		t.Errorf("mounts %+v", ec.VolumeMounts)
	}
	if sec.Name != j.pod+"-step-0" || sec.OwnerReferences[0].UID != "uid-1" || string(sec.Data["e1"]) != "hunter22" {
		t.Errorf("secret %+v", sec)
	}
	// A volume the pod was not created with cannot be added to it.
	c.Mounts = []engine.Mount{{Source: "other", Target: "/other"}}
	if _, _, err := j.stepParts(s, c, "step-0"); err == nil || !strings.Contains(err.Error(), "was not among the job's volumes when its pod was created") {
		t.Errorf("err = %v", err)
	}
}

func TestIdentityTokenRefused(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := &engine.Spec{RunID: "r", Key: "k", Services: []*engine.Container{{Name: "svc-x", Image: "r.example/x:1",
		Pull: &engine.Pull{Auth: &engine.RegistryAuth{Registry: "r.example", IdentityToken: "tok"}}}}}
	j := e.newJob(s)
	j.containerName("svc-x")
	if _, err := j.buildPod(s); err == nil || !strings.Contains(err.Error(), "identity token") || strings.Contains(err.Error(), "tok ") {
		t.Errorf("err = %v", err)
	}
}

func TestStateOf(t *testing.T) {
	run := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, tc := range []struct {
		st   *corev1.ContainerStatus
		want engine.State
	}{
		{nil, engine.State{Running: true}},
		{&corev1.ContainerStatus{State: run}, engine.State{Running: true}},
		{&corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}, engine.State{Running: true}},
		{&corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "OOMKilled"}}}, engine.State{ExitCode: 3, OOM: true}},
		{&corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}, engine.State{ExitCode: 1, Error: "CrashLoopBackOff"}},
	} {
		if got := stateOf(tc.st); got != tc.want {
			t.Errorf("stateOf(%+v) = %+v, want %+v", tc.st, got, tc.want)
		}
	}
}

// kubelet plays the node for a fake clientset: it applies status to the
// job's pod once it exists.
func kubelet(t *testing.T, cs *fake.Clientset, name string, status func(*corev1.Pod)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for i := 0; i < 500 && ctx.Err() == nil; i++ {
			p, err := cs.CoreV1().Pods("ci").Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				time.Sleep(50 * time.Millisecond) // after the engine's watch began
				status(p)
				// A test that ended first has deleted the pod: nothing to say.
				if _, err := cs.CoreV1().Pods("ci").Update(ctx, p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
					t.Error(err)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
}

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Ready: true}
}

func serviceSpec() *engine.Spec {
	return &engine.Spec{RunID: "0123456789ab", Key: "j0-0", Owner: "h:1", WorkspacePath: "/w",
		Services: []*engine.Container{{Name: "svc-redis", Image: "docker.io/library/redis:7.0", Aliases: []string{"redis"}}}}
}

// setupRunning sets serviceSpec's job up, a fake kubelet running its
// service and holder.
func setupRunning(t *testing.T, e *Engine, cs *fake.Clientset) *engine.Spec {
	t.Helper()
	s := serviceSpec()
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = "10.0.0.9"
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{running("svc-redis")}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{running(holderName)}
	})
	if err := e.Setup(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSetupWaitsForTheHolderAndDestroyRemovesAll(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: 5 * time.Second})
	s := setupRunning(t, e, cs)
	ctx := context.Background()
	if err := e.StartService(ctx, s, s.Services[0]); err != nil {
		t.Error(err)
	}
	if st, err := e.Inspect(ctx, s, "svc-redis"); err != nil || !st.Running {
		t.Errorf("Inspect = %+v, %v", st, err)
	}
	secrets, _ := cs.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{LabelSelector: jobSelector(s)})
	if len(secrets.Items) != 2 {
		t.Errorf("%d secrets", len(secrets.Items))
	}
	for _, sec := range secrets.Items {
		if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].Name != podName(s) {
			t.Errorf("secret %s owners %+v", sec.Name, sec.OwnerReferences)
		}
	}
	if err := e.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods("ci").List(ctx, metav1.ListOptions{LabelSelector: engine.LabelRun})
	secrets, _ = cs.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{LabelSelector: engine.LabelRun})
	if len(pods.Items)+len(secrets.Items) != 0 {
		t.Errorf("left %d pods, %d secrets", len(pods.Items), len(secrets.Items))
	}
	if e.job(s) != nil {
		t.Error("the job's state is kept")
	}
}

func TestSetupFailsOnAServiceImagePull(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: time.Minute})
	s := serviceSpec()
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		p.Status.Phase = corev1.PodPending
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "svc-redis", Image: "docker.io/library/redis:7.0",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "failed to pull: 401 Unauthorized"}}}}
	})
	start := time.Now()
	err := e.Setup(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "service redis: cannot pull image docker.io/library/redis:7.0 (ErrImagePull): failed to pull: 401 Unauthorized") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	_ = e.Destroy(context.Background(), s)
}

func TestSetupFailsOnAServiceThatExitsAtOnce(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: time.Minute})
	s := serviceSpec()
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "svc-redis", Image: "docker.io/library/redis:7.0", RestartCount: 1,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "no password given"}}}}
	})
	err := e.Setup(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "service redis (docker.io/library/redis:7.0) exited with code 1 before the job's steps could start") ||
		!strings.Contains(err.Error(), "no password given") {
		t.Errorf("err = %v", err)
	}
	_ = e.Destroy(context.Background(), s)
}

func TestSetupSaysWhyAPodCannotBeScheduled(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: 300 * time.Millisecond})
	s := serviceSpec()
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "0/1 nodes are available: 1 Insufficient memory."}}
	})
	err := e.Setup(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "did not start within 300ms: the pod cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory.") {
		t.Errorf("err = %v", err)
	}
	_ = e.Destroy(context.Background(), s)
}

func TestSetupCanceled(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := serviceSpec()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if err := e.Setup(ctx, s); err != context.Canceled {
		t.Errorf("err = %v", err)
	}
	if err := e.Destroy(context.Background(), s); err != nil {
		t.Error(err)
	}
}

func TestCollectRemovesOnlyDeadOwnersOfThisHost(t *testing.T) {
	e, cs := newFakeEngine(t, Config{})
	host, _ := os.Hostname()
	ctx := context.Background()
	dead := deadPid(t)
	mk := func(run, owner string) {
		s := &engine.Spec{RunID: run, Key: "j0-0", Owner: owner}
		meta := metav1.ObjectMeta{Name: podName(s), Namespace: "ci", Labels: labels(s, "pod"), Annotations: annotations(s)}
		if _, err := cs.CoreV1().Pods("ci").Create(ctx, &corev1.Pod{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		meta.Name += "-env"
		if _, err := cs.CoreV1().Secrets("ci").Create(ctx, &corev1.Secret{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("deadrun", fmt.Sprintf("%s:%d", host, dead))
	mk("liverun", fmt.Sprintf("%s:%d", host, os.Getpid()))
	mk("otherhost", fmt.Sprintf("elsewhere:%d", dead))
	if _, err := cs.CoreV1().Pods("ci").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-ours", Namespace: "ci"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := e.Collect(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Collect = %d, %v", n, err)
	}
	pods, _ := cs.CoreV1().Pods("ci").List(ctx, metav1.ListOptions{})
	var left []string
	for _, p := range pods.Items {
		left = append(left, p.Name)
	}
	secrets, _ := cs.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
	if len(left) != 3 || len(secrets.Items) != 2 || strings.Contains(strings.Join(left, " "), "deadrun") {
		t.Errorf("left pods %v and %d secrets", left, len(secrets.Items))
	}
}

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func TestPingRefusesOldClusters(t *testing.T) {
	e, cs := newFakeEngine(t, Config{})
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{Major: "1", Minor: "27", GitVersion: "v1.27.3"}
	if err := e.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "needs 1.29 or newer") {
		t.Errorf("err = %v", err)
	}
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{Major: "1", Minor: "35", GitVersion: "v1.35.4"}
	if err := e.Ping(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestImageInfoNeverFails(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	if info, err := e.ImageInfo(context.Background(), "docker.io/library/unknown:1"); err != nil || len(info.ExposedTCPPorts) != 0 {
		t.Errorf("%+v, %v", info, err)
	}
	if info, _ := e.ImageInfo(context.Background(), "docker.io/library/redis:7.0"); !reflect.DeepEqual(info.ExposedTCPPorts, []int{6379}) {
		t.Errorf("%+v", info)
	}
}

func TestSetupFailsOnAPullEventBeforeTheStatusSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, cs := newFakeEngine(t, Config{PollTimeout: time.Minute})
	s := serviceSpec()
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: p.Name + ".1", Namespace: "ci"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: p.Name, UID: p.UID, FieldPath: "spec.initContainers{svc-redis}"},
			Type:           corev1.EventTypeWarning, Reason: "Failed", Count: 1,
			Message: `Failed to pull image "docker.io/library/redis:7.0": failed to resolve reference: 401 Unauthorized`,
		}
		if _, err := cs.CoreV1().Events("ci").Create(context.Background(), ev, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
		// As a real kubelet retrying the pull, bump the event's count now
		// and then: the fake clientset's watch starts at its own "now",
		// not at the list's resource version, so an event made between
		// the engine's list and its watch would otherwise go unseen.
		go func() {
			for i := int32(2); i < 100 && ctx.Err() == nil; i++ {
				time.Sleep(200 * time.Millisecond)
				ev.Count = i
				_, _ = cs.CoreV1().Events("ci").Update(ctx, ev, metav1.UpdateOptions{})
			}
		}()
	})
	start := time.Now()
	err := e.Setup(context.Background(), s)
	if err == nil || err.Error() != "service redis: cannot pull image docker.io/library/redis:7.0 (ErrImagePull): failed to resolve reference: 401 Unauthorized" {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	_ = e.Destroy(context.Background(), s)
}

func TestDialFallsBackToReadiness(t *testing.T) {
	e, cs := newFakeEngine(t, Config{PollTimeout: 5 * time.Second})
	s := serviceSpec()
	ready := running("svc-redis")
	kubelet(t, cs, podName(s), func(p *corev1.Pod) {
		p.Spec.NodeName = "node"
		p.Status.PodIP = "192.0.2.1" // TEST-NET: never reachable
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{ready}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{running(holderName)}
	})
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer e.Destroy(ctx, s)
	e.podNet.Store(2) // as learnt from a first probe that timed out
	c, err := e.Dial(ctx, s, "svc-redis", 6379)
	if err != nil {
		t.Fatalf("Dial of a ready service: %v", err)
	}
	c.Close()
	j := e.job(s)
	p, _, _ := j.current()
	p = p.DeepCopy()
	p.Status.InitContainerStatuses[0].Ready = false
	j.set(p, false)
	if _, err := e.Dial(ctx, s, "svc-redis", 6379); err == nil || !strings.Contains(err.Error(), "is not ready") {
		t.Errorf("Dial of a service not ready: %v", err)
	}
}

func TestStepsVolumesAndCredentialsAreInThePodFromTheStart(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	auth := &engine.RegistryAuth{Registry: "127.0.0.1:5000", Username: "u", Password: "p"}
	s := &engine.Spec{RunID: "r", Key: "k", WorkspacePath: "/drone/src", Steps: []*engine.Container{
		{Name: "step-0", Image: "127.0.0.1:5000/private/a:1", Pull: &engine.Pull{Auth: auth},
			Mounts: []engine.Mount{{Source: "cache", Target: "/cache"}}},
		{Name: "step-1", Image: "docker.io/library/busybox:1.35", Mounts: []engine.Mount{{Source: "cache", Target: "/cache"}, {Source: "/var/run/x.sock", Target: "/x.sock"}}},
	}}
	j, pp := build(t, e, s)
	var names []string
	for _, v := range pp.pod.Spec.Volumes {
		names = append(names, v.Name)
	}
	if want := []string{workspaceVolume, "vol-cache", "host-" + shortHash("/var/run/x.sock")}; !reflect.DeepEqual(names, want) {
		t.Errorf("volumes %v, want %v", names, want)
	}
	if !strings.Contains(string(pp.pull.Data[corev1.DockerConfigJsonKey]), `"127.0.0.1:5000/private/a"`) {
		t.Errorf("pull secret %s", pp.pull.Data[corev1.DockerConfigJsonKey])
	}
	// Run then finds the credentials there: the secret is not updated.
	if fresh, err := j.addPullCred(context.Background(), s.Steps[0]); err != nil || fresh {
		t.Errorf("addPullCred = %v, %v", fresh, err)
	}
	for _, c := range s.Steps {
		if _, _, err := j.stepParts(s, c, j.containerName(c.Name)); err != nil {
			t.Error(err)
		}
	}
}

// TestUserAndMemoryVolume: a numeric user becomes the security context's;
// a memory-backed mount an emptyDir in memory.
func TestUserAndMemoryVolume(t *testing.T) {
	e, _ := newFakeEngine(t, Config{})
	s := testSpec()
	s.Steps = []*engine.Container{{Name: "step-0", Image: "docker.io/library/busybox:1.35", User: "1000:2000",
		Mounts: []engine.Mount{{Source: "scratch", Target: "/scratch", Tmpfs: true}}}}
	j, pp := build(t, e, s)
	var medium corev1.StorageMedium = "unset"
	for _, v := range pp.pod.Spec.Volumes {
		if v.Name == "vol-scratch" {
			medium = v.EmptyDir.Medium
		}
	}
	if medium != corev1.StorageMediumMemory {
		t.Errorf("scratch volume medium %q", medium)
	}
	ec, _, err := j.stepParts(s, s.Steps[0], j.containerName("step-0"))
	if err != nil {
		t.Fatal(err)
	}
	if sc := ec.SecurityContext; sc == nil || *sc.RunAsUser != 1000 || *sc.RunAsGroup != 2000 || sc.Privileged != nil {
		t.Errorf("security context %+v", sc)
	}
}

// TestContainerProblemWaitsForTheKubeletsCaches: a config error that is
// only the kubelet's secret cache lagging is retried by the kubelet, so it
// does not fail the step; a config error about the spec does.
func TestContainerProblemWaitsForTheKubeletsCaches(t *testing.T) {
	pod := func(msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name:  "step-0",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: msg}},
		}}}}
	}
	if r, m := containerProblem(pod("failed to sync secret cache: timed out waiting for the condition"), "step-0"); r != "" {
		t.Errorf("a lagging secret cache is final: %s %s", r, m)
	}
	if r, _ := containerProblem(pod(`secret "missing" not found`), "step-0"); r != "CreateContainerConfigError" {
		t.Errorf("a missing secret is not a problem: %q", r)
	}
}
