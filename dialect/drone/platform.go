package drone

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// clone reads the implicit clone step's settings. slipway copies the
// checkout instead of cloning, so depth, tags and the rest change nothing;
// disable: true leaves the workspace empty, as Drone does.
func (p *parser) clone(d *jobDoc, _, v *yaml.Node) {
	pairs, ok := p.mappingOf("clone", v)
	if !ok {
		return
	}
	for _, pr := range pairs {
		switch pr.Key.Value {
		case "disable":
			d.noClone, _ = p.boolean("clone disable", pr.Value)
			d.job.NoCheckout = d.noClone
		case "depth", "retries":
			if _, err := strconv.Atoi(pr.Value.Value); pr.Value.Kind != yaml.ScalarNode || err != nil {
				p.errorf(pr.Value, "clone %s: expected a number, got %s", pr.Key.Value, describe(pr.Value))
			}
		case "skip_verify", "tags", "trace":
			p.boolean("clone "+pr.Key.Value, pr.Value)
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
}

// platform reads platform: {os, arch, variant, version}.
func (p *parser) platform(d *jobDoc, _, v *yaml.Node) {
	pairs, ok := p.mappingOf("platform", v)
	if !ok {
		return
	}
	for _, pr := range pairs {
		switch pr.Key.Value {
		case "os":
			d.os, _ = p.str("platform os", pr.Value)
			d.platformAt = pr.Value
		case "arch":
			arch, _ := p.str("platform arch", pr.Value)
			d.arch = normalArch(arch)
			d.platformAt = pr.Value
		case "variant":
			d.variant, _ = p.str("platform variant", pr.Value)
		case "version":
			p.str("platform version", pr.Value)
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
}

// normalArch maps the kernel's names for an architecture to Go's, which
// Drone uses.
func normalArch(arch string) string {
	switch arch {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return arch
}

// platformSkip skips a pipeline for another OS or architecture than the
// engine's, as a Drone runner never picks it up.
func (p *parser) platformSkip(d *jobDoc) {
	if d.skip != "" {
		return
	}
	os, arch := p.ctx.OS, normalArch(p.ctx.Arch)
	switch {
	case d.os != "" && os != "" && d.os != os:
		d.skip = "platform.os " + quote(d.os) + " is not the engine's " + quote(os)
	case d.arch != "" && arch != "" && d.arch != arch:
		d.skip = "platform.arch " + quote(d.arch) + " is not the engine's " + quote(arch)
	default:
		return
	}
	d.skipAt = d.platformAt
}
