package plan

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
)

// Policy is what the runner configuration and the command line add to,
// or forbid in, a pipeline before it runs: the Options and the
// configuration, read and parsed.
type Policy struct {
	// Trusted allows what a file asks of the host (host volumes,
	// privileged, devices, cap_add, network_mode: host).
	Trusted bool
	// TrustRemedy says how a run becomes trusted (Options.TrustRemedy).
	TrustRemedy string
	// Privileged and Volumes come from the runner configuration, which
	// the machine's administrator wrote: they apply to every container
	// and need no --trusted. Volumes are "/path" (a volume of the job) or
	// "/host:/container[:ro]".
	Privileged bool
	Volumes    []string
	// CapAdd and Devices ("/dev/host[:/dev/container[:rwm]]") come from
	// the runner configuration too, and apply to every container.
	CapAdd  []string
	Devices []string
	// ForbidHostAccess refuses what a file asks of the host even for
	// trusted runs; AllowedHostPaths (globs), when set, are the only host
	// paths a trusted run may mount, and are the way to allow one of the
	// paths refused by default (/, /proc, /sys, /dev, sockets).
	ForbidHostAccess bool
	AllowedHostPaths []string
	// DefaultImage is used by steps whose file names no image.
	DefaultImage string
	// AllowedImages and AllowedServices are glob patterns; empty allows all.
	AllowedImages   []string
	AllowedServices []string
	// Env is added to every step and service (--env), after the file's;
	// BaseEnv ([[runners]] environment) before it, so the file wins.
	Env     []pipeline.EnvVar
	BaseEnv []pipeline.EnvVar
	// Secrets are the names of the secrets that were given.
	Secrets map[string]string
	// PullPolicy is used for images whose file sets none (the runner
	// configuration's pull_policy); AllowedPullPolicies limits what a file
	// may ask for (allowed_pull_policies). Both may be empty.
	PullPolicy          []pipeline.PullPolicy
	AllowedPullPolicies []pipeline.PullPolicy
	// PrivilegedImages may run privileged where Drone runs them so on
	// its own (privileged_images).
	PrivilegedImages []string
}

// apply applies pol to p and checks everything that can be checked
// before anything starts, so that bad input is refused with nothing to
// clean up. All problems are reported at once.
func apply(p *pipeline.Pipeline, pol Policy) error {
	cfgHost, err := pol.configHost()
	if err != nil {
		return err
	}
	cfgVols, err := configVolumes(pol.Volumes)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range p.Jobs() {
		errs = append(errs, pol.checkTrustedVolumes(j)...)
		for _, name := range j.PullSecrets {
			if _, ok := pol.Secrets[name]; !ok {
				errs = append(errs, pipeline.Errorf(j.Pos, "image_pull_secrets: secret %q was not given (use --secret %s=@config.json)", name, name))
			}
		}
		for _, st := range j.Steps {
			errs = append(errs, pol.prepareStep(j, st)...)
			st.Volumes = append(st.Volumes[:len(st.Volumes):len(st.Volumes)], cfgVols...)
			st.Host = st.Host.With(cfgHost)
			errs = append(errs, checkTarget(j, &st.Container)...)
		}
		for _, svc := range j.Services {
			svc.Env = pol.env(svc.Env)
			if err := expandImage(&svc.Image, svc.Env); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, pol.checkImage(svc.Image, pol.AllowedServices, "service")...)
			errs = append(errs, pol.pullPolicy(&svc.Image)...)
			errs = append(errs, pol.checkHost(svc.Volumes, svc.Privileged, svc.Host)...)
			errs = append(errs, pol.checkSecrets(svc.Env)...)
			svc.Volumes = append(svc.Volumes[:len(svc.Volumes):len(svc.Volumes)], cfgVols...)
			svc.Privileged.Value = svc.Privileged.Value || pol.Privileged
			svc.Host = svc.Host.With(cfgHost)
			errs = append(errs, checkTarget(j, &svc.Container)...)
		}
	}
	return errors.Join(uniqueErrors(errs)...)
}

// uniqueErrors drops repeated messages: a setting of the runner
// configuration that a job cannot have is reported once, not once per
// container.
func uniqueErrors(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}

func (pol Policy) prepareStep(j *pipeline.Job, st *pipeline.Step) []error {
	var errs []error
	if st.Image.Name == "" {
		if pol.DefaultImage == "" {
			return []error{unrunnable{pipeline.Errorf(j.Pos, "job %s has no image, and no default image is set: give --default-image IMAGE or set [runners.docker] image in the runner configuration", j.Name)}}
		}
		ref, err := image.Parse(pol.DefaultImage)
		if err != nil {
			return []error{fmt.Errorf("runner configuration: %v", err)}
		}
		st.Image = pipeline.Image{Name: pol.DefaultImage, Ref: ref.String(), Pull: st.Image.Pull, Pos: st.Image.Pos}
	}
	st.Env = pol.env(st.Env)
	if err := expandImage(&st.Image, st.Env); err != nil {
		return []error{err}
	}
	errs = append(errs, pol.checkImage(st.Image, pol.AllowedImages, "image")...)
	errs = append(errs, pol.pullPolicy(&st.Image)...)
	errs = append(errs, pol.checkHost(st.Volumes, st.Privileged, st.Host)...)
	errs = append(errs, pol.checkSecrets(st.Env)...)
	st.Privileged.Value = st.Privileged.Value || pol.Privileged
	return errs
}

// env is a container's environment: the runner configuration's, the
// file's, then the command line's; the last value of a name wins.
func (pol Policy) env(file []pipeline.EnvVar) []pipeline.EnvVar {
	out := make([]pipeline.EnvVar, 0, len(pol.BaseEnv)+len(file)+len(pol.Env))
	out = append(out, pol.BaseEnv...)
	out = append(out, file...)
	return append(out, pol.Env...)
}

// configHost parses the runner configuration's cap_add and devices, which
// are added to every container after the file's own are checked.
func (pol Policy) configHost() (pipeline.Host, error) {
	var h pipeline.Host
	for _, c := range pol.CapAdd {
		h.CapAdd = append(h.CapAdd, pipeline.Capability{Name: strings.TrimPrefix(strings.ToUpper(c), "CAP_")})
	}
	for _, spec := range pol.Devices {
		d, ok := pipeline.ParseDevice(spec)
		if !ok {
			return h, fmt.Errorf("runner configuration devices: %q: expected /dev/host, /dev/host:/dev/container or /dev/host:/dev/container:rwm", spec)
		}
		d.Pos = pipeline.Pos{File: "runner configuration devices"}
		h.Devices = append(h.Devices, d)
	}
	return h, nil
}

// configVolumes parses the runner configuration's volumes: "/cache" is a
// volume of the job at /cache, "/host:/ctr[:ro|rw]" a host path.
func configVolumes(specs []string) ([]pipeline.Volume, error) {
	var out []pipeline.Volume
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		v := pipeline.Volume{Source: parts[0], Target: parts[0]}
		ok := path.IsAbs(v.Source) && len(parts) <= 3
		if ok && len(parts) >= 2 {
			v.Target = parts[1]
			ok = path.IsAbs(v.Target)
		}
		if ok && len(parts) == 3 {
			v.ReadOnly = parts[2] == "ro"
			ok = parts[2] == "ro" || parts[2] == "rw"
		}
		if !ok {
			return nil, fmt.Errorf("runner configuration volumes: %q: expected /container/path or /host/path:/container/path[:ro]", spec)
		}
		if len(parts) == 1 {
			// A volume of the job, named for its path.
			v.Source = "config" + strings.ReplaceAll(path.Clean(spec), "/", "-")
		}
		out = append(out, v)
	}
	return out, nil
}

func (pol Policy) checkSecrets(env []pipeline.EnvVar) []error {
	var errs []error
	for _, v := range env {
		if v.FromSecret == "" {
			continue
		}
		if _, ok := pol.Secrets[v.FromSecret]; !ok {
			errs = append(errs, fmt.Errorf("%s needs secret %q, which was not given (use --secret %s=VALUE)", v.Name, v.FromSecret, v.FromSecret))
		}
	}
	return errs
}

// checkImage applies an allow-list of glob patterns to an image.
func (pol Policy) checkImage(img pipeline.Image, allowed []string, what string) []error {
	if len(allowed) == 0 {
		return nil
	}
	for _, pat := range allowed {
		if globMatch(pat, img) {
			return nil
		}
	}
	return []error{pipeline.Errorf(img.Pos, "%s %s is not allowed by the runner configuration (allowed: %s)", what, img.Name, strings.Join(allowed, ", "))}
}

// globMatch matches a pattern against the image as written, in its short
// form and in its normalised form, so "redis:*" and "docker.io/library/*"
// both work.
func globMatch(pat string, img pipeline.Image) bool {
	names := []string{img.Name, img.Ref}
	if ref, err := image.Parse(img.Ref); err == nil {
		names = append(names, ref.Familiar())
	}
	for _, n := range names {
		if ok, _ := path.Match(pat, n); ok {
			return true
		}
	}
	return false
}

// pullPolicy gives an image the policies gitlab-runner would: those of
// the file, else the configured default, intersected with the allowed
// ones. Nothing left refuses the image.
func (pol Policy) pullPolicy(img *pipeline.Image) []error {
	source := "GitLab pipeline config"
	if len(img.Pull) == 0 {
		img.Pull, source = pol.PullPolicy, "Runner config"
	}
	eff, err := image.Effective(img.Pull, pol.AllowedPullPolicies, source)
	if err != nil {
		return []error{pipeline.Errorf(img.Pos, "%s: %v", img.Name, err)}
	}
	img.Pull = eff
	return nil
}

// expandImage resolves variables in an image name the dialect could not
// parse ($CI_REGISTRY_IMAGE:1.0) from the variables of the job, as GitLab
// does, and parses the result.
func expandImage(img *pipeline.Image, env []pipeline.EnvVar) error {
	if img.Ref != "" || img.Name == "" {
		return nil
	}
	vars := map[string]string{}
	for _, v := range env {
		if v.FromSecret == "" {
			vars[v.Name] = v.Value
		}
	}
	name := os.Expand(img.Name, func(k string) string { return vars[k] })
	ref, err := image.Parse(name)
	if err != nil {
		return unrunnable{pipeline.Errorf(img.Pos, "image %s expands to %q: %v", img.Name, name, err)}
	}
	img.Name, img.Ref = name, ref.String()
	return nil
}

// unrunnable is a problem of this run rather than of the file: the image
// a job needs cannot be known here (no image and no default one, or a
// name built from variables the run does not set). exec refuses it before
// anything starts; lint, which runs nothing, reports it as a warning.
type unrunnable struct{ err *pipeline.Error }

func (u unrunnable) Error() string { return u.err.Error() }
func (u unrunnable) Unwrap() error { return u.err }

// demote splits err into the unrunnable problems, as warnings, and the
// rest, still an error.
func demote(err error) ([]*pipeline.Warning, error) {
	var warns []*pipeline.Warning
	var rest []error
	for _, e := range leaves(err) {
		var u unrunnable
		if errors.As(e, &u) {
			warns = append(warns, u.err)
			continue
		}
		rest = append(rest, e)
	}
	return warns, errors.Join(rest...)
}

// leaves unpacks errors.Join.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
