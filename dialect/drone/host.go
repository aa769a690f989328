package drone

import (
	"net/netip"
	"path"
	"regexp"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Settings that reach the host besides volumes and privileged. They are
// only read here, with their positions; the runner refuses them unless
// the run is trusted.

// capabilityRE is a Linux capability as Docker accepts it: NET_ADMIN,
// CAP_NET_ADMIN, or ALL.
var capabilityRE = regexp.MustCompile(`^(?i:CAP_)?[A-Za-z_]+$`)

// setCapAdd reads "cap_add: [NET_ADMIN, SYS_PTRACE]".
func (p *parser) setCapAdd(_ *jobDoc, c *container, _, v *yaml.Node) {
	items, _ := p.strList("cap_add", v, true)
	for _, n := range items {
		if !capabilityRE.MatchString(n.Value) {
			p.errorf(n, "cap_add: %s is not a capability name (like NET_ADMIN)", quote(n.Value))
			continue
		}
		name := strings.TrimPrefix(strings.ToUpper(n.Value), "CAP_")
		c.host.CapAdd = append(c.host.CapAdd, pipeline.Capability{Name: name, Pos: p.pos(n)})
	}
}

// setNetworkMode reads "network_mode: host". Other modes (bridge, none,
// container:x) would take the container out of the job's network, which
// services rely on, so they are refused.
func (p *parser) setNetworkMode(_ *jobDoc, c *container, k, v *yaml.Node) {
	mode, ok := p.str("network_mode", v)
	if !ok {
		return
	}
	if mode != "host" {
		p.errorf(v, "network_mode: only host is supported, got %s (the default joins the pipeline's network)", quote(mode))
		return
	}
	c.host.Network = &pipeline.Setting{Value: true, Pos: p.pos(k)}
}

// setDevices reads Drone 1.x "devices: [{name: xvda, path: /dev/xvda}]",
// each naming a host volume of the pipeline, or Drone 0.x
// "devices: [/dev/fuse, /dev/sda:/dev/xvda:r]".
func (p *parser) setDevices(d *jobDoc, c *container, _, v *yaml.Node) {
	p.mountItems(v, "devices", func(item *yaml.Node) {
		var dev pipeline.Volume
		var ok bool
		if item.Kind == yaml.ScalarNode && !isNull(item) {
			dev, ok = p.deviceString(item)
		} else if name := undeclared(d, item); name != nil {
			p.warnf(name, "devices: volume %s is not declared in the pipeline's volumes:; a trusted run skips this device, as Drone's runner does", quote(name.Value))
			c.host.UnknownDevices = append(c.host.UnknownDevices, pipeline.Volume{Source: name.Value, Pos: p.pos(item)})
			return
		} else if dev, ok = p.volumeRef(d, item); ok && !path.IsAbs(dev.Source) {
			p.errorf(item, "devices: volume %s is a temp volume; a device must name a host volume (host: {path: /dev/...})", quote(dev.Source))
			ok = false
		}
		if ok {
			c.host.Devices = append(c.host.Devices, dev)
		}
	})
}

// undeclared is the name: of a {name, path} device that names no volume
// of the pipeline, or nil.
func undeclared(d *jobDoc, item *yaml.Node) *yaml.Node {
	if item.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], yamlutil.Resolve(item.Content[i+1])
		if k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
			if _, ok := d.volumes[v.Value]; !ok {
				return v
			}
		}
	}
	return nil
}

// deviceString reads "/host[:/container[:perms]]" as docker run --device.
func (p *parser) deviceString(n *yaml.Node) (pipeline.Volume, bool) {
	dev, ok := pipeline.ParseDevice(n.Value)
	if !ok {
		p.errorf(n, "devices: expected /dev/host, /dev/host:/dev/container or /dev/host:/dev/container:rwm")
	}
	dev.Pos = p.pos(n)
	return dev, ok
}

func (p *parser) setUser(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.user, _ = p.str("user", v)
}

func (p *parser) setWorkingDir(_ *jobDoc, c *container, _, v *yaml.Node) {
	dir, ok := p.str("working_dir", v)
	if ok && !path.IsAbs(dir) {
		p.errorf(v, "working_dir: expected an absolute path")
		return
	}
	c.workingDir = path.Clean(dir)
}

// setDNS reads "dns: 8.8.8.8" or a list of servers.
func (p *parser) setDNS(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.host.DNS = p.hostValues(v, "dns", func(s string) bool {
		_, err := netip.ParseAddr(s)
		return err == nil
	}, "an IP address")
}

func (p *parser) setDNSSearch(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.host.DNSSearch = p.hostValues(v, "dns_search", func(s string) bool {
		return !strings.ContainsAny(s, " \t/:")
	}, "a domain name")
}

// setExtraHosts reads "extra_hosts: [name:ip]", as docker run --add-host.
func (p *parser) setExtraHosts(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.host.ExtraHosts = p.hostValues(v, "extra_hosts", func(s string) bool {
		name, ip, ok := strings.Cut(s, ":")
		_, err := netip.ParseAddr(ip)
		return ok && name != "" && err == nil
	}, "name:ip")
}

// hostValues reads a string or a list of strings, each checked by valid.
func (p *parser) hostValues(v *yaml.Node, what string, valid func(string) bool, form string) []pipeline.HostValue {
	items, _ := p.strList(what, v, true)
	var out []pipeline.HostValue
	for _, n := range items {
		if !valid(n.Value) {
			p.errorf(n, "%s: expected %s, got %s", what, form, quote(n.Value))
			continue
		}
		out = append(out, pipeline.HostValue{Value: n.Value, Pos: p.pos(n)})
	}
	return out
}
