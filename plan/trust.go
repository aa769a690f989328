package plan

import (
	"cmp"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// defaultTrustRemedy is how a local run becomes trusted; a runner of a
// server says instead how the repository is marked (Options.TrustRemedy).
const defaultTrustRemedy = "slipway exec --trusted"

// trustHint ends the message of a refusal that a trusted run would admit.
func (pol Policy) trustHint() string {
	if pol.TrustRemedy == "" {
		return "needs a trusted run (" + defaultTrustRemedy + ")"
	}
	return "needs a trusted run (" + pol.TrustRemedy + ")"
}

// checkHost refuses settings that reach the host: always when the runner
// configuration forbids them, otherwise unless the run is trusted, and
// for the most dangerous host paths even then, unless the configuration
// allows them by name.
func (pol Policy) checkHost(vols []pipeline.Volume, priv pipeline.Setting, host pipeline.Host) []error {
	var errs []error
	for _, v := range vols {
		if !strings.HasPrefix(v.Source, "/") {
			continue // a volume of the job, not a host path
		}
		if err := pol.checkHostPath(v); err != nil {
			errs = append(errs, err)
		}
	}
	refuse := func(pos pipeline.Pos, what string) {
		switch {
		case pol.ForbidHostAccess:
			errs = append(errs, pipeline.Errorf(pos, "%s: the runner configuration forbids it (forbid_host_access)", what))
		case !pol.Trusted:
			errs = append(errs, pipeline.Errorf(pos, "%s %s", what, pol.trustHint()))
		}
	}
	if priv.Value {
		refuse(priv.Pos, "privileged: true")
	}
	for _, d := range host.Devices {
		refuse(d.Pos, "devices: the host device "+d.Source)
	}
	for _, d := range host.UnknownDevices {
		refuse(d.Pos, "devices: the device of undeclared volume "+d.Source)
	}
	for _, c := range host.CapAdd {
		refuse(c.Pos, "cap_add: "+c.Name)
	}
	if host.Network != nil && host.Network.Value {
		refuse(host.Network.Pos, "network_mode: host")
	}
	// Drone's linter allows the resolver settings only to trusted
	// repositories: they redirect the container's names.
	for _, v := range hostValues(host) {
		refuse(v.Pos, v.Value)
	}
	return errs
}

// hostValues lists the resolver settings as "key: value" with where each
// was set.
func hostValues(h pipeline.Host) []pipeline.HostValue {
	var out []pipeline.HostValue
	for key, vs := range map[string][]pipeline.HostValue{"dns": h.DNS, "dns_search": h.DNSSearch, "extra_hosts": h.ExtraHosts} {
		for _, v := range vs {
			out = append(out, pipeline.HostValue{Value: key + ": " + v.Value, Pos: v.Pos})
		}
	}
	slices.SortFunc(out, func(a, b pipeline.HostValue) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return out
}

func (pol Policy) checkHostPath(v pipeline.Volume) error {
	switch {
	case pol.ForbidHostAccess:
		return pipeline.Errorf(v.Pos, "volumes: the runner configuration forbids host paths (forbid_host_access); %s cannot be mounted", v.Source)
	case !pol.Trusted:
		return pipeline.Errorf(v.Pos, "volumes: mounting the host path %s %s", v.Source, pol.trustHint())
	}
	paths := hostPaths(v.Source)
	if pol.allowedHostPath(paths) {
		return nil
	}
	if len(pol.AllowedHostPaths) > 0 {
		return pipeline.Errorf(v.Pos, "volumes: the host path %s is outside the runner configuration's allowed_host_paths (%s)", v.Source, strings.Join(pol.AllowedHostPaths, ", "))
	}
	for _, p := range paths {
		if why := dangerous(p); why != "" {
			return pipeline.Errorf(v.Pos, "volumes: mounting %s (%s) is refused even for trusted runs; a runner configuration can allow it with allowed_host_paths", v.Source, why)
		}
	}
	return nil
}

// hostPaths is the path as written and, when it exists, where its
// symlinks lead: a link to / must not pass for an innocent directory.
func hostPaths(p string) []string {
	out := []string{filepath.Clean(p)}
	if real, err := filepath.EvalSymlinks(p); err == nil && real != out[0] {
		out = append(out, real)
	}
	return out
}

// allowedHostPath is true when every form of the path matches a pattern.
func (pol Policy) allowedHostPath(paths []string) bool {
	if len(pol.AllowedHostPaths) == 0 {
		return false
	}
	var pats []string
	for _, pat := range pol.AllowedHostPaths {
		// An allowed path is allowed wherever its own links lead, too.
		pats = append(pats, hostPaths(pat)...)
	}
	for _, p := range paths {
		ok := false
		for _, pat := range pats {
			if m, _ := path.Match(pat, p); m || p == pat || strings.HasPrefix(p, strings.TrimSuffix(pat, "/")+"/") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// systemDirs give a container the host, and so does any directory that
// holds one of them: /var holds /var/lib/docker, every job's volumes.
var systemDirs = []string{"/proc", "/sys", "/dev", "/boot", "/etc", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/run/containerd", "/run/docker"}

// dangerous says why a host path gives a container the host, or "".
func dangerous(p string) string {
	if p == "/" {
		return "the host's root"
	}
	for _, d := range systemDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "a host system directory"
		}
		if strings.HasPrefix(d, p+"/") {
			return "it holds the host system directory " + d
		}
	}
	if strings.HasSuffix(p, "/docker.sock") || strings.HasSuffix(p, ".sock") {
		return "a control socket: it gives the container the host"
	}
	if st, err := os.Stat(p); err == nil && st.Mode()&fs.ModeSocket != 0 {
		return "a control socket: it gives the container the host"
	}
	for _, d := range []string{"/run", "/var/run"} {
		if p == d {
			return "it holds the host's control sockets"
		}
	}
	return ""
}

// numericUser is uid[:gid], what a pod's security context can express.
var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// checkTarget refuses host settings the job's engine cannot apply: a
// Kubernetes pod shares one network namespace (host networking would be
// the whole pod's) and maps no devices without privileged.
func checkTarget(j *pipeline.Job, c *pipeline.Container) []error {
	if j.Target != pipeline.TargetKubernetes {
		return nil
	}
	host := c.Host
	var errs []error
	if c.User != "" && !numericUser.MatchString(c.User) {
		errs = append(errs, pipeline.Errorf(c.Pos, "user: %q: Kubernetes runs a container as a numeric uid[:gid] only", c.User))
	}
	for _, d := range host.Devices {
		errs = append(errs, pipeline.Errorf(d.Pos, "devices: not supported on Kubernetes (%s); run this pipeline with type: docker", d.Source))
	}
	if host.Network != nil && host.Network.Value {
		errs = append(errs, pipeline.Errorf(host.Network.Pos, "network_mode: host is not supported on Kubernetes; run this pipeline with type: docker"))
	}
	for _, v := range hostValues(host) {
		errs = append(errs, pipeline.Errorf(v.Pos, "%s: not supported on Kubernetes (a pod has one resolver); run this pipeline with type: docker", v.Value))
	}
	return errs
}

// privilegedPlugins lets the Docker-in-Docker plugins that Drone runs
// privileged on its own (plugins/docker used as a plugin) run privileged
// here too: when the runner configuration lists the image
// (privileged_images), or in a trusted run that the configuration does not
// forbid, with a note that says so; otherwise the step is refused, as it
// would fail without.
func privilegedPlugins(p *pipeline.Pipeline, pol Policy) ([]*pipeline.Warning, []error) {
	var notes []*pipeline.Warning
	var errs []error
	for _, j := range p.Jobs() {
		for _, st := range j.Steps {
			if !st.PrivilegedPlugin || st.Privileged.Value {
				continue
			}
			listed := slices.ContainsFunc(pol.PrivilegedImages, func(pat string) bool { return globMatch(pat, st.Image) })
			switch {
			case listed:
				notes = append(notes, pipeline.Errorf(st.Image.Pos, "step %s runs privileged, as Drone runs %s (the runner configuration's privileged_images lists it)", st.Name, st.Image.Name))
			case pol.Trusted && !pol.ForbidHostAccess:
				notes = append(notes, pipeline.Errorf(st.Image.Pos, "step %s runs privileged, as Drone runs %s (Docker in Docker), in this trusted run", st.Name, st.Image.Name))
			default:
				errs = append(errs, pipeline.Errorf(st.Image.Pos, "step %s: Drone runs %s privileged (Docker in Docker); here that needs a trusted run (slipway exec --trusted) or the image in the runner configuration's privileged_images", st.Name, st.Image.Name))
				continue
			}
			st.Privileged = pipeline.Setting{Value: true, Pos: st.Image.Pos}
		}
	}
	return notes, errs
}

// checkTrustedVolumes refuses, outside a trusted run, the volumes a Drone
// pipeline declares that its linter allows only trusted repositories,
// mounted or not (host paths, temp volumes in memory); host paths also
// when the configuration forbids them.
func (pol Policy) checkTrustedVolumes(j *pipeline.Job) []error {
	var errs []error
	for _, v := range j.TrustedVolumes {
		what := "the host volume " + v.Source + ", declared though no container mounts it,"
		if v.Tmpfs {
			what = "the temp volume " + v.Source + " in memory (medium: memory)"
		}
		switch {
		case pol.ForbidHostAccess && !v.Tmpfs:
			errs = append(errs, pipeline.Errorf(v.Pos, "volumes: %s: the runner configuration forbids host paths (forbid_host_access)", what))
		case !pol.Trusted:
			errs = append(errs, pipeline.Errorf(v.Pos, "volumes: %s %s, as Drone's linter says", what, pol.trustHint()))
		}
	}
	return errs
}
