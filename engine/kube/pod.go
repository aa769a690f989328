package kube

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/slipway-ci/slipway/engine"
)

const workspaceVolume = "workspace"

// holderScript keeps the holder running until the pod is deleted; it ends
// at once on SIGTERM. As the init process of the steps' PID namespace
// (steps target it) it also reaps what they orphan.
const holderScript = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`

// initScript unpacks the workspace from stdin.
const initScript = `set -e; mkdir -p "$1"; tar -x -f - -C "$1"`

// podParts is everything Setup creates for a job, built without any API
// call so that it can be tested on its own.
type podParts struct {
	pod     *corev1.Pod
	env     *corev1.Secret // the services' variables
	pull    *corev1.Secret // registry credentials, kubernetes.io/dockerconfigjson
	tarIn   bool           // the init container reads the workspace on stdin
	aliases []string       // host names given by hostAliases
	dropped []string       // host names Kubernetes cannot give
}

// buildPod makes the job's pod: an init container that unpacks the
// workspace, the services as native sidecars, the holder; steps come later
// as ephemeral containers.
func (j *job) buildPod(s *engine.Spec) (*podParts, error) {
	e := j.e
	pp := &podParts{}
	name := j.pod
	// Owned by the runner's pod (Config.OwnerPod): the secrets too, until
	// Setup hands them to the job's pod, so that none is left if the
	// runner's pod goes in between.
	meta := func(n, role string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: e.ns, Labels: labels(s, role), Annotations: annotations(s),
			OwnerReferences: e.ownerRefs()}
	}
	pp.env = &corev1.Secret{ObjectMeta: meta(name+"-env", "env"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	creds := map[string]*engine.RegistryAuth{}
	// The steps are known too (Spec.Steps): their credentials go in the
	// pull secret from the start, their volumes are declared below.
	all := append(append([]*engine.Container{}, s.Services...), s.Steps...)
	for _, c := range all {
		if err := addCred(creds, c); err != nil {
			return nil, err
		}
	}
	data, err := dockerConfigJSON(creds)
	if err != nil {
		return nil, err
	}
	for k, a := range creds {
		j.creds[k] = a.Username + ":" + a.Password
	}
	pp.pull = &corev1.Secret{ObjectMeta: meta(name+"-pull", "pull-secret"), Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}

	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		EnableServiceLinks:            ptr(false),
		AutomountServiceAccountToken:  ptr(e.cfg.ServiceAccount != ""),
		ServiceAccountName:            e.cfg.ServiceAccount,
		NodeSelector:                  e.cfg.NodeSelector,
		TerminationGracePeriodSeconds: ptr(int64(10)),
		ImagePullSecrets:              []corev1.LocalObjectReference{{Name: pp.pull.Name}},
	}
	for _, n := range e.cfg.ImagePullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
	}
	if s.WorkspacePath != "" {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: workspaceVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	var mounts []engine.Mount
	for _, c := range all {
		mounts = append(mounts, c.Mounts...)
	}
	spec.Volumes = append(spec.Volumes, j.declareVolumes(mounts)...)

	// Host names: every alias of the shared namespace and of each service
	// answers on 127.0.0.1, since a pod is one network namespace.
	pp.aliases, pp.dropped = hostNames(s)
	if len(pp.aliases) > 0 {
		spec.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: pp.aliases}}
	}
	pp.tarIn = s.WorkspaceDir != "" && s.WorkspacePath != ""
	if pp.tarIn {
		init := corev1.Container{
			Name:                     initName,
			Image:                    e.cfg.HelperImage,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			Command:                  escape([]string{"sh", "-c", initScript, "slipway-init", s.WorkspacePath}),
			Stdin:                    true,
			StdinOnce:                true,
			VolumeMounts:             j.workspaceMount(s),
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		}
		spec.InitContainers = append(spec.InitContainers, init)
	}
	ports := map[int]string{}
	for _, c := range s.Services {
		kn := j.containerName(c.Name)
		env, vals := envVars(pp.env.Name, kn+".", c.Env)
		for k, v := range vals {
			pp.env.Data[k] = v
		}
		vm, err := j.volumeMounts(s, c)
		if err != nil {
			return nil, err
		}
		cmd, args := commandArgs(c)
		ctr := corev1.Container{
			Name:                     kn,
			Image:                    c.Image,
			ImagePullPolicy:          pullPolicy(c.Pull),
			Command:                  cmd,
			Args:                     args,
			Env:                      env,
			WorkingDir:               c.WorkingDir,
			VolumeMounts:             vm,
			SecurityContext:          securityContext(c),
			RestartPolicy:            ptr(corev1.ContainerRestartPolicyAlways),
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		}
		if p := j.probePorts[kn]; p > 0 {
			ctr.ReadinessProbe = &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(p))}},
				PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1,
			}
			if other, ok := ports[p]; ok && c.Entrypoint == nil && c.Cmd == nil {
				return nil, fmt.Errorf("services %s and %s both listen on port %d, and a Kubernetes pod is one network namespace: give one of them a command that uses another port", other, c.Name, p)
			}
			if c.Entrypoint == nil && c.Cmd == nil {
				ports[p] = c.Name
			}
		}
		spec.InitContainers = append(spec.InitContainers, ctr)
	}
	podRes, holderRes := e.resources()
	if len(podRes.Requests)+len(podRes.Limits) > 0 {
		spec.Resources = &podRes
	}
	spec.Containers = []corev1.Container{{
		Name:                     holderName,
		Image:                    e.cfg.HelperImage,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  escape([]string{"sh", "-c", holderScript}),
		VolumeMounts:             j.workspaceMount(s),
		Resources:                holderRes,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}}
	pp.pod = &corev1.Pod{ObjectMeta: meta(name, "pod"), Spec: spec}
	return pp, nil
}

// stepParts is an ephemeral container for a step and its variables.
func (j *job) stepParts(s *engine.Spec, c *engine.Container, kn string) (corev1.EphemeralContainer, *corev1.Secret, error) {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: j.pod + "-" + kn, Namespace: j.e.ns, Labels: labels(s, "env"), Annotations: annotations(s)},
		Type:       corev1.SecretTypeOpaque,
	}
	if j.uid != "" {
		sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: j.pod, UID: j.uid}}
	}
	env, vals := envVars(sec.Name, "", c.Env)
	sec.Data = vals
	vm, err := j.volumeMounts(s, c)
	if err != nil {
		return corev1.EphemeralContainer{}, nil, err
	}
	cmd, args := commandArgs(c)
	ec := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:                     kn,
			Image:                    c.Image,
			ImagePullPolicy:          pullPolicy(c.Pull),
			Command:                  cmd,
			Args:                     args,
			Env:                      env,
			WorkingDir:               c.WorkingDir,
			VolumeMounts:             vm,
			SecurityContext:          securityContext(c),
			Stdin:                    c.Stdin != nil,
			StdinOnce:                c.Stdin != nil,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		},
		// The step joins the holder's PID namespace: its process is not
		// PID 1 there, so that signals from the holder stop it (see stop).
		TargetContainerName: holderName,
	}
	return ec, sec, nil
}

func ptr[T any](v T) *T { return &v }

// escape protects $ from Kubernetes' $(VAR) expansion of command, args
// and env values, which Docker does not do: $$ becomes $ again.
func escape(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ReplaceAll(s, "$", "$$")
	}
	return out
}

// commandArgs maps Docker's entrypoint and cmd onto command and args.
// Kubernetes cannot clear an image's entrypoint without a command: an
// empty entrypoint with no cmd keeps the image's.
func commandArgs(c *engine.Container) (command, args []string) {
	switch {
	case c.Entrypoint == nil:
		return nil, escape(c.Cmd)
	case len(c.Entrypoint) == 0:
		if len(c.Cmd) == 0 {
			return nil, nil
		}
		return escape(c.Cmd), nil
	default:
		return escape(c.Entrypoint), escape(c.Cmd)
	}
}

// envVars turns NAME=value pairs into variables read from a secret (so
// that values, secrets among them, are not in the pod's spec for anyone
// who may read pods), the last value of a name winning as on Docker.
func envVars(secret, keyPrefix string, env []string) ([]corev1.EnvVar, map[string][]byte) {
	idx := map[string]int{}
	var names []string
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			continue
		}
		if _, ok := idx[k]; !ok {
			idx[k] = len(names)
			names = append(names, k)
		}
		vals[k] = v
	}
	data := map[string][]byte{}
	out := make([]corev1.EnvVar, 0, len(names))
	for i, k := range names {
		key := fmt.Sprintf("%se%d", keyPrefix, i)
		data[key] = []byte(vals[k])
		out = append(out, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key},
		}})
	}
	return out, data
}

// securityContext carries privileged and cap_add; the runner has already
// refused them for untrusted runs, and refused devices and host networking,
// which a pod cannot give one container.
func securityContext(c *engine.Container) *corev1.SecurityContext {
	if !c.Privileged && len(c.CapAdd) == 0 && c.User == "" {
		return nil
	}
	sc := &corev1.SecurityContext{}
	// The runner refused a user that is not uid[:gid].
	uid, gid, _ := strings.Cut(c.User, ":")
	if n, err := strconv.ParseInt(uid, 10, 64); err == nil {
		sc.RunAsUser = ptr(n)
	}
	if n, err := strconv.ParseInt(gid, 10, 64); err == nil {
		sc.RunAsGroup = ptr(n)
	}
	if c.Privileged {
		sc.Privileged = ptr(true)
	}
	if len(c.CapAdd) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, name := range c.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(name))
		}
	}
	return sc
}

// pullPolicy maps slipway's pull policy onto imagePullPolicy. Images
// pulled with credentials are always pulled (unless the policy is never),
// so that the registry checks the credentials every time; see doc.go.
func pullPolicy(p *engine.Pull) corev1.PullPolicy {
	switch {
	case p == nil:
		return corev1.PullIfNotPresent
	case p.Policy == engine.PullNever:
		return corev1.PullNever
	case p.Policy == engine.PullAlways || p.Auth != nil:
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// credKey is the key of an image's credentials in a docker config: its
// repository, so that two repositories of one registry may use different
// credentials (the kubelet matches the longest key first). img is a
// normalised reference (host/path[:tag][@digest]), as the runner gives.
func credKey(img string) (string, error) {
	repo, _, _ := strings.Cut(img, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if !strings.Contains(repo, "/") {
		return "", fmt.Errorf("image %s is not a normalised reference", img)
	}
	return repo, nil
}

func addCred(creds map[string]*engine.RegistryAuth, c *engine.Container) error {
	if c.Pull == nil || c.Pull.Auth == nil {
		return nil
	}
	a := c.Pull.Auth
	if a.IdentityToken != "" && a.Password == "" {
		return fmt.Errorf("%s: the credentials for %s are an identity token, which the kubelet cannot use: give a username and password", c.Name, a.Registry)
	}
	key, err := credKey(c.Image)
	if err != nil {
		return err
	}
	creds[key] = a
	return nil
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// dockerConfigJSON is the .dockerconfigjson of a pull secret.
func dockerConfigJSON(creds map[string]*engine.RegistryAuth) ([]byte, error) {
	auths := map[string]dockerAuth{}
	for k, a := range creds {
		auths[k] = dockerAuth{Username: a.Username, Password: a.Password,
			Auth: base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))}
	}
	return json.Marshal(map[string]any{"auths": auths})
}

// hostNames are the job's host names that hostAliases can give: DNS
// names, lower-cased (lookups in /etc/hosts ignore case). Names with other
// characters, such as GitLab's "tutum__wordpress", cannot be given on
// Kubernetes (its API refuses them in hostAliases, and the kubelet rewrites
// a pod's /etc/hosts whenever it starts a container); they are dropped.
func hostNames(s *engine.Spec) (aliases, dropped []string) {
	seen := map[string]bool{}
	add := func(h string) {
		l := strings.ToLower(h)
		if h == "" || seen[l] {
			return
		}
		seen[l] = true
		if len(validation.IsDNS1123Subdomain(l)) == 0 {
			aliases = append(aliases, l)
		} else {
			dropped = append(dropped, h)
		}
	}
	for _, a := range s.Aliases {
		add(a)
	}
	for _, c := range s.Services {
		for _, a := range c.Aliases {
			add(a)
		}
	}
	return aliases, dropped
}

// declareVolumes makes the pod's volumes for mounts: a host path as a
// hostPath volume (the runner refused those unless the run is trusted), a
// name (Drone's temp volumes, the configuration's "/cache") as an emptyDir
// shared by the job's containers.
func (j *job) declareVolumes(mounts []engine.Mount) []corev1.Volume {
	var out []corev1.Volume
	for _, m := range mounts {
		if _, ok := j.volumes[m.Source]; ok {
			continue
		}
		var v corev1.Volume
		if strings.HasPrefix(m.Source, "/") {
			v = corev1.Volume{Name: "host-" + shortHash(m.Source), VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path.Clean(m.Source)}}}
		} else {
			v = corev1.Volume{Name: dnsLabel("vol-"+m.Source, 63), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			if m.Tmpfs {
				v.EmptyDir.Medium = corev1.StorageMediumMemory
			}
		}
		j.volumes[m.Source] = v.Name
		out = append(out, v)
	}
	return out
}

func (j *job) workspaceMount(s *engine.Spec) []corev1.VolumeMount {
	if s.WorkspacePath == "" {
		return nil
	}
	return []corev1.VolumeMount{{Name: workspaceVolume, MountPath: s.WorkspacePath}}
}

// volumeMounts are a container's mounts: the workspace and its own.
func (j *job) volumeMounts(s *engine.Spec, c *engine.Container) ([]corev1.VolumeMount, error) {
	out := j.workspaceMount(s)
	for _, m := range c.Mounts {
		v, ok := j.volumes[m.Source]
		if !ok {
			return nil, fmt.Errorf("%s mounts %s, which was not among the job's volumes when its pod was created (a pod's volumes cannot change): the runner must give every step in Spec.Steps before Setup", c.Name, m.Source)
		}
		if m.Target == s.WorkspacePath {
			continue
		}
		out = append(out, corev1.VolumeMount{Name: v, MountPath: m.Target, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// podLevel are the resources Kubernetes accepts in a pod's own
// resources (PodLevelResources, 1.34+).
func podLevel(name string) bool {
	return name == "cpu" || name == "memory" || strings.HasPrefix(name, "hugepages-")
}

// resources splits the configured requests and limits: cpu and memory go
// to the pod, where they bound the steps too (ephemeral containers cannot
// have resources of their own); every request goes to the holder as well,
// so that a cluster without pod-level resources still reserves them; other
// limits (ephemeral-storage) go to the holder.
func (e *Engine) resources() (pod, holder corev1.ResourceRequirements) {
	pod = corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	holder = corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, name := range sortedKeys(e.requests) {
		q := e.requests[name]
		if podLevel(name) {
			pod.Requests[corev1.ResourceName(name)] = q
		}
		holder.Requests[corev1.ResourceName(name)] = q
	}
	for _, name := range sortedKeys(e.limits) {
		q := e.limits[name]
		if podLevel(name) {
			pod.Limits[corev1.ResourceName(name)] = q
		} else {
			holder.Limits[corev1.ResourceName(name)] = q
		}
	}
	for _, rl := range []*corev1.ResourceList{&pod.Requests, &pod.Limits, &holder.Requests, &holder.Limits} {
		if len(*rl) == 0 {
			*rl = nil
		}
	}
	return pod, holder
}

func sortedKeys(m map[string]resource.Quantity) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
