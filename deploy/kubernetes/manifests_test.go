// Package kubernetes_test tests the manifests of deploy/kubernetes: read
// with Kubernetes' own types here (TestManifests, no cluster needed), and
// deployed on the test cluster (TestDeployOnCluster, deploy_test.go).
package kubernetes_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/slipway-ci/slipway/server"
)

// secretKeys are the keys of secrets.env (kustomization.yaml's header
// says how to make it; TestDeployOnCluster makes it so).
var secretKeys = []string{"postgres-password", "registration-token"}

// kustomization is what the tests read of kustomization.yaml.
type kustomization struct {
	Namespace          string   `json:"namespace"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name     string   `json:"name"`
		Literals []string `json:"literals"`
	} `json:"configMapGenerator"`
	SecretGenerator []struct {
		Name string   `json:"name"`
		Envs []string `json:"envs"`
	} `json:"secretGenerator"`
}

// readManifests decodes every document of every resource file strictly:
// an unknown or misspelt field fails here, not at `kubectl apply`.
func readManifests(t *testing.T) (kustomization, []runtime.Object) {
	t.Helper()
	var k kustomization
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for _, f := range k.Resources {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs = append(objs, obj)
		}
	}
	return k, objs
}

// podSpecs are the pod templates of the workloads, by workload name.
func podSpecs(objs []runtime.Object) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, o := range objs {
		switch w := o.(type) {
		case *appsv1.StatefulSet:
			out[w.Name] = w.Spec.Template
		case *appsv1.Deployment:
			out[w.Name] = w.Spec.Template
		}
	}
	return out
}

func TestManifests(t *testing.T) {
	k, objs := readManifests(t)
	if k.Namespace == "" {
		t.Error("kustomization.yaml sets no namespace")
	}
	pods := podSpecs(objs)
	for _, want := range []string{"slipway-server", "slipway-postgres", "slipway-runner"} {
		if _, ok := pods[want]; !ok {
			t.Errorf("no workload %s", want)
		}
	}
	cms := map[string][]string{}
	for _, g := range k.ConfigMapGenerator {
		for _, l := range g.Literals {
			key, _, _ := strings.Cut(l, "=")
			cms[g.Name] = append(cms[g.Name], key)
		}
	}
	secrets := map[string][]string{}
	for _, g := range k.SecretGenerator {
		secrets[g.Name] = secretKeys
	}
	for name, p := range pods {
		checkPod(t, name, p.Spec, cms, secrets)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			checkService(t, o, pods)
		case *rbacv1.Role:
			checkRole(t, o)
		}
	}
	checkHealthProbes(t, pods["slipway-server"].Spec)
	checkOwnerPodEnv(t, pods["slipway-runner"].Spec)
}

// checkOwnerPodEnv: the runner learns its own pod from the downward API
// (cmd/slipway's ownerPod), so that its pod owns the jobs' pods.
func checkOwnerPodEnv(t *testing.T, p corev1.PodSpec) {
	want := map[string]string{"SLIPWAY_POD_NAME": "metadata.name", "SLIPWAY_POD_UID": "metadata.uid", "SLIPWAY_POD_NAMESPACE": "metadata.namespace"}
	for _, c := range p.Containers {
		if c.Name != "runner" {
			continue
		}
		for _, e := range c.Env {
			if f := e.ValueFrom; f != nil && f.FieldRef != nil && want[e.Name] == f.FieldRef.FieldPath {
				delete(want, e.Name)
			}
		}
	}
	for name, path := range want {
		t.Errorf("slipway-runner/runner: no %s from the downward API's %s", name, path)
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkPod: every $(VAR) of a container's command and args is one of its
// variables (the kubelet leaves others as they are, silently); every
// ConfigMap and Secret key it reads is generated; images are never pulled
// when present (the test cluster has no registry).
func checkPod(t *testing.T, name string, p corev1.PodSpec, cms, secrets map[string][]string) {
	for _, c := range append(slices.Clone(p.InitContainers), p.Containers...) {
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
			if f := e.ValueFrom; f != nil && f.ConfigMapKeyRef != nil && !slices.Contains(cms[f.ConfigMapKeyRef.Name], f.ConfigMapKeyRef.Key) {
				t.Errorf("%s/%s: %s reads ConfigMap %s key %s, which kustomization.yaml does not make", name, c.Name, e.Name, f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key)
			}
			if f := e.ValueFrom; f != nil && f.SecretKeyRef != nil && !slices.Contains(secrets[f.SecretKeyRef.Name], f.SecretKeyRef.Key) {
				t.Errorf("%s/%s: %s reads Secret %s key %s, which kustomization.yaml does not make", name, c.Name, e.Name, f.SecretKeyRef.Name, f.SecretKeyRef.Key)
			}
		}
		for _, a := range append(slices.Clone(c.Command), c.Args...) {
			for _, m := range varRef.FindAllStringSubmatch(a, -1) {
				if !env[m[1]] {
					t.Errorf("%s/%s: %q refers to $(%s), not a variable of the container", name, c.Name, a, m[1])
				}
			}
		}
		if c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("%s/%s: imagePullPolicy %q, want IfNotPresent", name, c.Name, c.ImagePullPolicy)
		}
	}
}

// checkService: the Service selects a workload's pods, by a port name
// one of its containers has.
func checkService(t *testing.T, s *corev1.Service, pods map[string]corev1.PodTemplateSpec) {
	for name, p := range pods {
		if !selects(s.Spec.Selector, p.Labels) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if containerPort(p.Spec, sp.TargetPort.String()) == 0 {
				t.Errorf("service %s: target port %s is not a port of %s", s.Name, sp.TargetPort.String(), name)
			}
		}
		return
	}
	t.Errorf("service %s selects no workload's pods", s.Name)
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

func containerPort(p corev1.PodSpec, name string) int32 {
	for _, c := range p.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// checkRole: the runner's Role grants core resources only, each verb by
// name (no wildcards).
func checkRole(t *testing.T, r *rbacv1.Role) {
	for _, rule := range r.Rules {
		if !slices.Equal(rule.APIGroups, []string{""}) {
			t.Errorf("role %s: API groups %v, want the core group only", r.Name, rule.APIGroups)
		}
		if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") {
			t.Errorf("role %s: a wildcard in %v", r.Name, rule)
		}
	}
}

// checkHealthProbes: the server's readiness and liveness probes ask a
// path and port the server answers 200 on (the real server's handler).
func checkHealthProbes(t *testing.T, p corev1.PodSpec) {
	var c corev1.Container
	for _, c = range p.Containers {
		if c.Name == "server" {
			break
		}
	}
	s, err := server.Open(context.Background(), server.Options{DataDir: t.TempDir(), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for what, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("server: no HTTP %s probe", what)
			continue
		}
		if containerPort(p, probe.HTTPGet.Port.String()) == 0 {
			t.Errorf("server: %s probe port %s is not a container port", what, probe.HTTPGet.Port.String())
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", probe.HTTPGet.Path, nil))
		if w.Code != 200 {
			t.Errorf("server: %s probe GET %s: %d, want 200", what, probe.HTTPGet.Path, w.Code)
		}
	}
}
