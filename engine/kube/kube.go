package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-ci/slipway/engine"
)

// Config is the [runners.kubernetes] section of the runner configuration,
// in gitlab-runner's terms where it has them.
type Config struct {
	// Kubeconfig is a kubeconfig file. Empty: the in-cluster configuration
	// when slipway runs in a pod, else $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; empty: its current context.
	Context string
	// Namespace holds every object slipway creates. Empty: the
	// kubeconfig context's namespace, else the pod's own namespace
	// in-cluster, else "default".
	Namespace string
	// Requests and Limits are the job's resources ("cpu", "memory",
	// "ephemeral-storage"... to quantities such as "500m", "1Gi"). See
	// doc.go for where they go.
	Requests map[string]string
	Limits   map[string]string
	// NodeSelector restricts the nodes a job's pod may run on.
	NodeSelector map[string]string
	// ServiceAccount runs the job's pod under that account, with its token
	// mounted. Empty: the namespace's default account, with no token
	// mounted (a job's code gets no API credentials by default).
	ServiceAccount string
	// ImagePullSecrets are existing secrets of the namespace added to
	// every job's pod (for the helper image, or registries the cluster's
	// administrator provides).
	ImagePullSecrets []string
	// HelperImage holds the job's workspace and runs its small chores: it
	// needs a POSIX sh with kill, and tar. Default DefaultHelperImage.
	HelperImage string
	// PollTimeout bounds every wait for the cluster: the pod to be
	// scheduled and its services started, each step's container to start
	// (image pull included). Default 3 minutes, as gitlab-runner's
	// poll_timeout.
	PollTimeout time.Duration
	// Images, when set, tells the exposed ports of an image (the health
	// check's ports): the kubelet has no image API. The command line
	// passes the local Docker Engine when one answers; without it, only
	// HEALTHCHECK_TCP_PORT is waited for.
	Images ImageInspector
	// OwnerPod, when set, is the pod slipway itself runs in (a runner's):
	// every job's pod names it in its ownerReferences, so that Kubernetes'
	// garbage collector deletes the job's pods when that pod is deleted,
	// even outright (a forced deletion, a lost node), which Collect cannot
	// judge from another pod. An owner must be in its dependent's
	// namespace: the reference is only set when OwnerPod.Namespace is the
	// engine's namespace (OwnsJobs tells).
	OwnerPod PodRef
}

// PodRef names a pod; the UID tells it from a later pod of the same name.
type PodRef struct {
	Namespace, Name, UID string
}

// IsZero reports whether r names no pod.
func (r PodRef) IsZero() bool { return r == PodRef{} }

// ImageInspector reports what an image exposes (engine/docker's ImageInfo).
type ImageInspector interface {
	ImageInfo(ctx context.Context, ref string) (engine.ImageInfo, error)
}

// DefaultHelperImage is the image of the workspace init container and of
// the holder container.
const DefaultHelperImage = "docker.io/library/busybox:1.35"

// DefaultPollTimeout is the default of Config.PollTimeout.
const DefaultPollTimeout = 3 * time.Minute

// Engine runs jobs as pods of one namespace.
type Engine struct {
	core   coreClient
	rest   *rest.Config // nil for fake clients (no exec, attach)
	ns     string
	cfg    Config
	source string // where the configuration came from, for errors

	requests, limits map[string]resource.Quantity

	mu   sync.Mutex
	jobs map[string]*job

	// podNet is the reachability of pod IPs from this process, learnt by
	// the first health-check probe: 0 unknown, 1 reachable, 2 not.
	podNet atomic.Int32
}

var (
	_ engine.Engine      = (*Engine)(nil)
	_ engine.SelfPulling = (*Engine)(nil)
)

// SelfPulling marks the engine as pulling through the kubelet.
func (e *Engine) SelfPulling() {}

// New loads the client configuration and checks Config; it does not
// contact the cluster (Ping does).
func New(cfg Config) (*Engine, error) {
	rc, ns, source, err := loadConfig(cfg)
	if err != nil {
		return nil, err
	}
	// A job makes a few dozen requests; concurrent jobs more. The default
	// client-side limit (5/s) would slow them for nothing.
	rc.QPS, rc.Burst = 50, 100
	core, err := newRESTCore(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	e, err := newEngine(core, rc, ns, cfg)
	if err != nil {
		return nil, err
	}
	e.source = source
	return e, nil
}

// newEngine is New with a given client (tests use a fake one).
func newEngine(core coreClient, rc *rest.Config, ns string, cfg Config) (*Engine, error) {
	if cfg.HelperImage == "" {
		cfg.HelperImage = DefaultHelperImage
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	e := &Engine{core: core, rest: rc, ns: ns, cfg: cfg, jobs: map[string]*job{}}
	if o := cfg.OwnerPod; !o.IsZero() && (o.Namespace == "" || o.Name == "" || o.UID == "") {
		return nil, fmt.Errorf("kubernetes owner pod: give its namespace, name and UID, all three (got %q, %q, %q)", o.Namespace, o.Name, o.UID)
	}
	var err error
	if e.requests, err = quantities("requests", cfg.Requests); err != nil {
		return nil, err
	}
	if e.limits, err = quantities("limits", cfg.Limits); err != nil {
		return nil, err
	}
	for k, v := range cfg.NodeSelector {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("kubernetes node_selector: %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("kubernetes node_selector %s: %q: %s", k, v, strings.Join(errs, "; "))
		}
	}
	return e, nil
}

func quantities(what string, m map[string]string) (map[string]resource.Quantity, error) {
	out := map[string]resource.Quantity{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("kubernetes %s: %s = %q: %v", what, k, v, err)
		}
		out[k] = q
	}
	return out, nil
}

// loadConfig finds the client configuration: an explicit kubeconfig, else
// in-cluster, else the default loading rules ($KUBECONFIG, ~/.kube/config).
func loadConfig(cfg Config) (*rest.Config, string, string, error) {
	if cfg.Kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		if rc, err := rest.InClusterConfig(); err == nil {
			ns := cfg.Namespace
			if ns == "" {
				if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
					ns = strings.TrimSpace(string(b))
				}
			}
			if ns == "" {
				ns = "default"
			}
			return rc, ns, "the in-cluster configuration", nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	source := "kubeconfig " + strings.Join(rules.Precedence, string(os.PathListSeparator))
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
		source = "kubeconfig " + cfg.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	rc, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, "", "", fmt.Errorf("no Kubernetes configuration: give a kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) or run slipway in a pod")
		}
		return nil, "", "", fmt.Errorf("kubernetes: %s: %w", source, err)
	}
	ns := cfg.Namespace
	if ns == "" {
		if n, _, err := cc.Namespace(); err == nil && n != "" {
			ns = n
		} else {
			ns = "default"
		}
	}
	return rc, ns, source, nil
}

// Namespace is where the engine creates its objects.
func (e *Engine) Namespace() string { return e.ns }

// OwnsJobs reports whether the jobs' pods are owned by Config.OwnerPod:
// it is set and in the engine's namespace.
func (e *Engine) OwnsJobs() bool {
	return !e.cfg.OwnerPod.IsZero() && e.cfg.OwnerPod.Namespace == e.ns
}

// ownerRefs are the ownerReferences of a job's pod: Config.OwnerPod when
// the engine owns jobs, else none. Neither controller nor
// blockOwnerDeletion: those need the owner's finalizers permission, and
// the garbage collector deletes the dependents without them.
func (e *Engine) ownerRefs() []metav1.OwnerReference {
	if !e.OwnsJobs() {
		return nil
	}
	o := e.cfg.OwnerPod
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: o.Name, UID: types.UID(o.UID)}}
}

// minMinor is the oldest Kubernetes minor version the engine supports:
// native sidecars (restartable init containers) are on by default from
// 1.29; ephemeral containers are GA since 1.25.
const minMinor = 29

// Ping checks that the API server answers, is recent enough, and lets
// slipway list pods in its namespace.
func (e *Engine) Ping(ctx context.Context) error {
	where := e.source
	if e.rest != nil {
		where = e.rest.Host + " (" + e.source + ")"
	}
	if _, err := e.core.Pods(e.ns).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("cannot use the Kubernetes API server at %s, namespace %s: %v", where, e.ns, err)
	}
	v, err := e.core.ServerVersion(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the version of the Kubernetes API server at %s: %v", where, err)
	}
	minor, _ := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if major, _ := strconv.Atoi(v.Major); major == 1 && minor > 0 && minor < minMinor {
		return fmt.Errorf("the Kubernetes cluster at %s runs %s; slipway needs 1.%d or newer (native sidecar containers)", where, v.GitVersion, minMinor)
	}
	return e.checkOwner(ctx)
}

// checkOwner checks that the owner pod is there with its UID: the garbage
// collector deletes a pod whose owner is not, so a wrong UID would delete
// every job's pod as soon as it is created.
func (e *Engine) checkOwner(ctx context.Context) error {
	if !e.OwnsJobs() {
		return nil
	}
	o := e.cfg.OwnerPod
	p, err := e.core.Pods(e.ns).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cannot read the owner of the jobs' pods, pod %s in namespace %s: %v", o.Name, e.ns, err)
	}
	if string(p.UID) != o.UID {
		return fmt.Errorf("the owner of the jobs' pods, pod %s in namespace %s, has UID %s, not %s: the garbage collector would delete the jobs' pods at once", o.Name, e.ns, p.UID, o.UID)
	}
	return nil
}

// ImageInfo reports the exposed ports of an image when Config.Images can
// tell; otherwise no ports, and no error: the kubelet pulls images itself,
// so an image unknown here is not missing.
func (e *Engine) ImageInfo(ctx context.Context, ref string) (engine.ImageInfo, error) {
	if e.cfg.Images == nil {
		return engine.ImageInfo{}, nil
	}
	info, err := e.cfg.Images.ImageInfo(ctx, ref)
	if err != nil {
		return engine.ImageInfo{}, nil
	}
	return info, nil
}

// PullImage is never called: the engine is SelfPulling.
func (e *Engine) PullImage(context.Context, string, *engine.RegistryAuth, func(engine.PullEvent)) error {
	return errors.New("the Kubernetes engine does not pull images: the kubelet does, by imagePullPolicy")
}

// --- names and labels

const (
	annotationPrefix = "slipway.dev/" // raw label values, before sanitising
	labelRole        = "slipway.role"
	initName         = "slipway-init"
	holderName       = "slipway-holder"
)

// podName is the name of a job's pod (and the prefix of its secrets).
func podName(s *engine.Spec) string {
	return dnsLabel("slipway-"+s.RunID+"-"+s.Key, 50)
}

func jobValue(s *engine.Spec) string { return s.RunID + "/" + s.Key }

// labels are engine/docker's, with values made valid for Kubernetes.
func labels(s *engine.Spec, role string) map[string]string {
	return map[string]string{
		engine.LabelRun:   labelValue(s.RunID),
		engine.LabelJob:   labelValue(jobValue(s)),
		engine.LabelOwner: labelValue(s.Owner),
		labelRole:         role,
	}
}

// annotations keep the raw values the labels had to change.
func annotations(s *engine.Spec) map[string]string {
	return map[string]string{
		annotationPrefix + "run":   s.RunID,
		annotationPrefix + "job":   jobValue(s),
		annotationPrefix + "owner": s.Owner,
	}
}

func jobSelector(s *engine.Spec) string { return engine.LabelJob + "=" + labelValue(jobValue(s)) }

// labelValue makes v a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with a letter or digit. Values that
// had to change get a hash of the original, so that two values never
// become one.
func labelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-_.")
	if len(out) > 52 {
		out = strings.Trim(out[:52], "-_.")
	}
	if out == "" {
		out = "x"
	}
	return out + "-" + shortHash(v)
}

// dnsLabel makes v a DNS-1123 label of at most max characters
// (lower-case letters, digits and '-'), hashed when it had to change.
func dnsLabel(v string, max int) string {
	if len(validation.IsDNS1123Label(v)) == 0 && len(v) <= max {
		return v
	}
	b := []byte(strings.ToLower(v))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) > max-11 {
		out = strings.Trim(out[:max-11], "-")
	}
	if out == "" {
		out = "x"
	}
	return out + "-" + shortHash(v)
}

func shortHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:5])
}
