package drone

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// volumeDef is a Drone 1.x pipeline-level volume. A host volume's Source
// is its absolute host path; a temp volume's Source is its name (never
// absolute), which the engine creates once per job so that the steps
// naming it share it, and removes with the job.
type volumeDef struct {
	name, source string
	// tmpfs: a temp volume with medium: memory.
	tmpfs bool
	// at is the declaration.
	at *yaml.Node
}

// reservedVolumes are the names Drone's runners keep for their own
// volumes; their linters refuse them.
var reservedVolumes = set("workspace", "_workspace", "_docker_socket", "_status")

// volumeNameRE is what Docker accepts as a volume name.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// pipelineVolumes reads "volumes: [{name, host: {path}} | {name, temp: {}}]".
func (p *parser) pipelineVolumes(v *yaml.Node) map[string]volumeDef {
	defs := map[string]volumeDef{}
	if isNull(v) {
		return defs
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "volumes: expected a list of volumes, got %s", describe(v))
		return defs
	}
	seen := map[string]*yaml.Node{}
	for _, item := range v.Content {
		item = yamlutil.Resolve(item)
		name, nameNode, def, ok := p.volumeDef(item)
		if !ok {
			continue
		}
		if prev, dup := seen[name]; dup {
			p.errorf(nameNode, "duplicate volume name %s (first defined at line %d)", quote(name), prev.Line)
			continue
		}
		if reservedVolumes[name] {
			p.errorf(nameNode, "volume name %s is reserved: Drone names its own volumes so", quote(name))
			continue
		}
		seen[name] = nameNode
		def.at, def.name = item, name
		defs[name] = def
	}
	return defs
}

func (p *parser) volumeDef(item *yaml.Node) (string, *yaml.Node, volumeDef, bool) {
	if item.Kind != yaml.MappingNode {
		p.errorf(item, "volumes: expected a mapping with a name and host or temp, got %s", describe(item))
		return "", nil, volumeDef{}, false
	}
	var name string
	var nameNode, host, temp *yaml.Node
	for _, pr := range p.pairs(item) {
		switch pr.Key.Value {
		case "name":
			name, _ = p.str("volume name", pr.Value)
			nameNode = pr.Value
		case "host":
			host = pr.Value
		case "temp":
			temp = pr.Value
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	switch {
	case nameNode == nil:
		p.errorf(item, "volume has no name")
	case name == "":
	case !volumeNameRE.MatchString(name):
		p.errorf(nameNode, "volume name %s: expected letters, digits, _ . or - (as Docker volume names)", quote(name))
	case (host == nil) == (temp == nil):
		p.errorf(item, "volume %s: expected exactly one of host or temp", quote(name))
	case host != nil:
		src, ok := p.hostPath(host)
		return name, nameNode, volumeDef{source: src}, ok
	default:
		tmpfs, ok := p.tempVolume(temp)
		return name, nameNode, volumeDef{source: name, tmpfs: tmpfs}, ok
	}
	return "", nil, volumeDef{}, false
}

// hostPath reads "host: {path: /abs}".
func (p *parser) hostPath(host *yaml.Node) (string, bool) {
	pairs, ok := p.mappingOf("host", host)
	if !ok {
		return "", false
	}
	var src string
	var at *yaml.Node
	for _, pr := range pairs {
		if pr.Key.Value != "path" {
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
			continue
		}
		at = pr.Value
		src, ok = p.str("host path", pr.Value)
	}
	switch {
	case at == nil:
		p.errorf(host, "host: expected a path")
	case ok && !path.IsAbs(src):
		p.errorf(at, "host path: expected an absolute path")
	case ok:
		return path.Clean(src), true
	}
	return "", false
}

// tempVolume reads "temp: {}" or "temp: {medium: memory}", which is a
// tmpfs in each container that mounts it, as drone-runner-docker makes it.
func (p *parser) tempVolume(temp *yaml.Node) (tmpfs, ok bool) {
	pairs, ok := p.mappingOf("temp", temp)
	for _, pr := range pairs {
		switch pr.Key.Value {
		case "medium":
			medium, good := p.str("temp medium", pr.Value)
			switch {
			case good && medium == "memory":
				tmpfs = true
			case good:
				p.errorf(pr.Value, "temp medium: expected memory, got %s", quote(medium))
				ok = false
			}
		case "size_limit":
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	return tmpfs, ok
}

// containerVolumes reads a step's or service's volumes: Drone 1.x
// {name, path} items naming a pipeline volume, or Drone 0.x
// "/host:/container[:ro]" strings.
func (p *parser) containerVolumes(d *jobDoc, c *container, v *yaml.Node) []pipeline.Volume {
	var out []pipeline.Volume
	p.mountItems(v, "volumes", func(item *yaml.Node) {
		var vol pipeline.Volume
		var ok bool
		switch {
		case item.Kind == yaml.ScalarNode && path.IsAbs(item.Value) && !strings.Contains(item.Value, ":"):
			vol, ok = anonymousVolume(item, c, len(out)), true
			vol.Pos = p.pos(item)
		case item.Kind == yaml.ScalarNode && !isNull(item):
			vol, ok = p.bindVolume(item)
		default:
			vol, ok = p.volumeRef(d, item)
		}
		if ok && p.checkMountTarget(item, vol.Target) {
			out = append(out, vol)
		}
	})
	return out
}

// anonymousVolume is Drone 0.x's "volumes: [/tmp]": a fresh volume for
// the container alone, as Docker makes for an anonymous volume. Its name
// (Source, never absolute) is the container's own.
func anonymousVolume(n *yaml.Node, c *container, i int) pipeline.Volume {
	return pipeline.Volume{Source: fmt.Sprintf("anonymous-%d-%d", c.number, i+1), Target: path.Clean(n.Value)}
}

// mountItems calls read with each item of a list of volumes or devices,
// aliases resolved.
func (p *parser) mountItems(v *yaml.Node, what string, read func(item *yaml.Node)) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "%s: expected a list of %s, got %s", what, what, describe(v))
		return
	}
	for _, item := range v.Content {
		item = yamlutil.Resolve(item)
		read(item)
	}
}

// bindVolume reads a Drone 0.x "/host:/container[:ro|rw]" mount. Docker's
// named volumes outlive the job, so only host paths are accepted.
func (p *parser) bindVolume(n *yaml.Node) (pipeline.Volume, bool) {
	parts := strings.Split(n.Value, ":")
	vol := pipeline.Volume{Pos: p.pos(n)}
	ok := len(parts) == 2 || len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw")
	if ok {
		vol.Source, vol.Target = parts[0], parts[1]
		vol.ReadOnly = len(parts) == 3 && parts[2] == "ro"
		ok = path.IsAbs(vol.Source) && path.IsAbs(vol.Target)
	}
	if !ok {
		p.errorf(n, "volumes: expected /host/path:/container/path or /host/path:/container/path:ro")
		return vol, false
	}
	vol.Source, vol.Target = path.Clean(vol.Source), path.Clean(vol.Target)
	return vol, true
}

// volumeRef reads a Drone 1.x "{name: cache, path: /cache}" mount.
func (p *parser) volumeRef(d *jobDoc, item *yaml.Node) (pipeline.Volume, bool) {
	vol := pipeline.Volume{Pos: p.pos(item)}
	pairs, ok := p.mappingOf("volumes", item)
	if !ok || isNull(item) {
		if ok {
			p.errorf(item, "volumes: expected a mapping with a name and a path, got null")
		}
		return vol, false
	}
	var name string
	var nameNode *yaml.Node
	for _, pr := range pairs {
		switch pr.Key.Value {
		case "name":
			name, _ = p.str("volume name", pr.Value)
			nameNode = pr.Value
		case "path":
			vol.Target, _ = p.str("volume path", pr.Value)
			if vol.Target != "" && !path.IsAbs(vol.Target) {
				p.errorf(pr.Value, "volume path: expected an absolute path")
				return vol, false
			}
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	return p.lookupVolume(d, item, nameNode, name, vol)
}

func (p *parser) lookupVolume(d *jobDoc, item, nameNode *yaml.Node, name string, vol pipeline.Volume) (pipeline.Volume, bool) {
	if nameNode == nil || vol.Target == "" {
		p.errorf(item, "volumes: expected a name and a path")
		return vol, false
	}
	if name == "" {
		return vol, false
	}
	def, ok := d.volumes[name]
	if !ok {
		p.errorf(nameNode, "unknown volume %s (volumes are declared in the pipeline's volumes: section)", quote(name))
		return vol, false
	}
	d.mounted[name] = true
	vol.Source, vol.Target, vol.Tmpfs = def.source, path.Clean(vol.Target), def.tmpfs
	return vol, true
}

// droneRun is where Drone's runners keep their own files in every
// container (the env file /run/drone/env that steps append to).
const droneRun = "/run/drone"

// checkMountTarget refuses a mount over Drone's own directory, as
// drone-runner-kube's linter does.
func (p *parser) checkMountTarget(item *yaml.Node, target string) bool {
	if target == droneRun || strings.HasPrefix(target, droneRun+"/") {
		p.errorf(item, "volumes: cannot mount a volume at %s: Drone keeps %s for its own files (%s/env)", target, droneRun, droneRun)
		return false
	}
	return true
}

// trustedVolumes lists, in the order declared, the volumes Drone's
// linter allows only in a trusted run and no mount will bring to the
// plan's trust check: host volumes no container mounts, temp volumes in
// memory.
func trustedVolumes(p *parser, d *jobDoc) []pipeline.Volume {
	var out []pipeline.Volume
	for _, def := range d.volumes {
		switch {
		case def.tmpfs:
		case path.IsAbs(def.source) && !d.mounted[def.name]:
		default:
			continue
		}
		out = append(out, pipeline.Volume{Source: def.source, Tmpfs: def.tmpfs, Pos: p.pos(def.at)})
	}
	slices.SortFunc(out, func(a, b pipeline.Volume) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return out
}
