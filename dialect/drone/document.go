package drone

import (
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// defaultWorkspace is where Drone checks out the repository.
const defaultWorkspace = "/drone/src"

// jobDoc is one pipeline document on its way to a Job.
type jobDoc struct {
	job  *pipeline.Job
	root *yaml.Node
	// nameNode is the value of name:, nil for the default name.
	nameNode *yaml.Node
	// legacy: a Drone 0.x document, whose plugin steps take unknown keys
	// as settings.
	legacy bool
	// deps are the names in the document's depends_on.
	deps    []*yaml.Node
	depsKey *yaml.Node
	// volumes are the pipeline-level volumes steps refer to by name;
	// mounted says which a container mounts.
	volumes map[string]volumeDef
	mounted map[string]bool
	// env is the pipeline-level environment, given to every container.
	env []pipeline.EnvVar
	// names holds every step and service name, which share one namespace
	// (they name containers and host names).
	names map[string]*yaml.Node
	// stepDeps are the depends_on of the job's steps, by step.
	stepDeps map[*pipeline.Step]stepDeps
	// skip is why trigger: (or the steps' when:) leaves the pipeline out
	// in this context, or ""; skippedSteps counts the steps when: left out.
	skip         string
	skipAt       *yaml.Node
	skippedSteps int
	// number is the document's place among the file's pipelines
	// (DRONE_STAGE_NUMBER); the others count steps and services as they
	// are read, to number them.
	number, stepsSeen, servicesSeen int
	// wsBase is where the workspace volume is mounted, wsPath the
	// working directory below it.
	wsBase, wsPath string
	// os and arch are the platform: the pipeline asks for.
	os, arch, variant string
	platformAt        *yaml.Node
	// noClone: clone: disable: true.
	noClone bool
	// foreign says why the pipeline is of a type slipway does not run
	// (exec, ssh, vm, ...), or is "".
	foreign   string
	foreignAt *yaml.Node
	// legacySteps are the names of a 0.x pipeline's steps, which may
	// repeat.
	legacySteps map[string]bool
	// services counts the services, which Drone numbers before steps.
	services int
}

// nextNumber is the next DRONE_STEP_NUMBER of a step or a service.
func (d *jobDoc) nextNumber(isStep bool) int {
	n := 1
	if !d.noClone {
		n++ // the clone step is number 1
	}
	if isStep {
		d.stepsSeen++
		return n + d.services + d.stepsSeen - 1
	}
	d.servicesSeen++
	return n + d.servicesSeen - 1
}

// stepDeps is a step's depends_on: the key (for errors) and the names.
type stepDeps struct {
	key   *yaml.Node
	names []*yaml.Node
}

// document turns one YAML document (its root node) into a job, or nil
// when the document is not a pipeline (a secret, a signature, null) or is
// broken.
func (p *parser) document(root *yaml.Node) *jobDoc {
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "expected a mapping with kind: pipeline, got %s", describe(root))
		return nil
	}
	pairs := p.pairs(root)
	kind := find(pairs, "kind")
	if kind == nil {
		return p.kindless(root, pairs)
	}
	name, ok := p.str("kind", kind.Value)
	switch {
	case !ok:
		return nil
	case name == "pipeline":
		return p.pipelineDoc(root, pairs, false)
	case name == "secret" || name == "signature":
		return nil
	}
	p.warnf(kind.Value, "documents of kind %s are not supported by slipway and are ignored", quote(name))
	return nil
}

// kindless handles a document without kind: a Drone 0.x file has pipeline:
// or services:; a 1.x pipeline that forgot its kind has steps:.
func (p *parser) kindless(root *yaml.Node, pairs []yamlutil.Pair) *jobDoc {
	if find(pairs, "pipeline") != nil || find(pairs, "services") != nil {
		return p.pipelineDoc(root, pairs, true)
	}
	if find(pairs, "steps") != nil {
		p.warnf(root, "document has steps but no kind; assuming kind: pipeline")
		return p.pipelineDoc(root, pairs, false)
	}
	p.warnf(root, "document has no kind (expected kind: pipeline) and is ignored")
	return nil
}

func find(pairs []yamlutil.Pair, key string) *yamlutil.Pair {
	for i := range pairs {
		if pairs[i].Key.Value == key {
			return &pairs[i]
		}
	}
	return nil
}

// docKey handles one top-level key of a pipeline document.
type docKey func(p *parser, d *jobDoc, k, v *yaml.Node)

var (
	// pipelineKeys are the Drone 1.x top-level keys slipway understands.
	// steps, services, volumes and environment are read separately, in
	// an order that lets steps refer to volumes and environment.
	pipelineKeys = map[string]docKey{
		"kind": nil, "steps": nil, "services": nil, "volumes": nil, "environment": nil,
		"type":               (*parser).pipelineType,
		"name":               (*parser).pipelineName,
		"workspace":          (*parser).workspace,
		"depends_on":         (*parser).pipelineDeps,
		"image_pull_secrets": (*parser).pullSecrets,
		"timeout":            (*parser).timeout,
		"trigger":            (*parser).trigger,
		"clone":              (*parser).clone,
		"platform":           (*parser).platform,
	}
	// legacyKeys are the Drone 0.x top-level keys slipway understands.
	legacyKeys = map[string]docKey{
		"pipeline": nil, "services": nil, "matrix": nil,
		"workspace": (*parser).workspace,
		"branches":  (*parser).branches,
	}
	// unsupportedDocKeys are real Drone keys with no place in the model.
	unsupportedDocKeys = set("clone", "node", "concurrency", "node_selector",
		"tolerations", "service_account_name", "metadata", "host_aliases", "dns_config",
		"labels", "version", "cache", "branches", "matrix")
)

// countItems is the number of entries of a list or a mapping.
func countItems(v *yaml.Node) int {
	if v.Kind == yaml.MappingNode {
		return len(v.Content) / 2
	}
	return len(v.Content)
}

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// pipelineDoc builds the job of a 1.x pipeline document or a 0.x file.
func (p *parser) pipelineDoc(root *yaml.Node, pairs []yamlutil.Pair, legacy bool) *jobDoc {
	d := &jobDoc{
		job: &pipeline.Job{
			Name: "default", Pos: p.pos(root), Network: pipeline.NetworkSharedLocalhost,
			Workspace: defaultWorkspace, Target: pipeline.TargetDocker, ExitEarly: 78,
		},
		root:        root,
		legacy:      legacy,
		wsBase:      defaultWorkspace,
		names:       map[string]*yaml.Node{},
		legacySteps: map[string]bool{},
		stepDeps:    map[*pipeline.Step]stepDeps{},
		mounted:     map[string]bool{},
	}
	p.documents++
	d.number = p.documents
	if t := find(pairs, "type"); t != nil && !legacy {
		p.pipelineType(d, t.Key, t.Value)
	}
	if d.foreign != "" {
		// Its keys and steps are for another runner: it is skipped,
		// whatever its trigger says; only its name matters here.
		if n := find(pairs, "name"); n != nil {
			p.pipelineName(d, n.Key, n.Value)
		}
		d.skip, d.skipAt = d.foreign, d.foreignAt
		return d
	}
	known := pipelineKeys
	if legacy {
		known = legacyKeys
	}
	for _, pr := range pairs {
		handle, ok := known[pr.Key.Value]
		switch {
		case pr.Key.Value == "type" && !legacy:
		case ok && handle != nil:
			handle(p, d, pr.Key, pr.Value)
		case ok:
		case unsupportedDocKeys[pr.Key.Value]:
			p.warnf(pr.Key, "key %s is not supported by slipway and is ignored", quote(pr.Key.Value))
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	p.platformSkip(d)
	p.docContainers(d, pairs)
	return d
}

// docContainers reads volumes and environment before the steps and
// services that use them.
func (p *parser) docContainers(d *jobDoc, pairs []yamlutil.Pair) {
	if v := find(pairs, "volumes"); v != nil && !d.legacy {
		d.volumes = p.pipelineVolumes(v.Value)
	}
	if v := find(pairs, "environment"); v != nil && !d.legacy {
		d.env = p.environment(v.Value)
	}
	stepsKey := "steps"
	if d.legacy {
		stepsKey = "pipeline"
	}
	steps := find(pairs, stepsKey)
	if v := find(pairs, "services"); v != nil {
		d.services = countItems(v.Value)
	}
	if steps != nil {
		p.containers(d, steps.Value, stepsKey, true)
	}
	if v := find(pairs, "services"); v != nil {
		p.containers(d, v.Value, "services", false)
	}
	p.orderSteps(d)
	d.job.TrustedVolumes = trustedVolumes(p, d)
	// Steps that failed to parse have their errors; warn only when the
	// file gives none.
	if steps == nil || isNull(steps.Value) || len(steps.Value.Content) == 0 {
		p.warnf(d.root, "pipeline %s has no steps", quote(d.job.Name))
	}
	// A pipeline whose every step when: leaves out has nothing to run: it
	// is skipped as a whole, like one its trigger: leaves out.
	if d.skippedSteps > 0 && len(d.job.Steps) == 0 && d.skip == "" {
		d.skip, d.skipAt = "when: leaves out every step", d.root
	}
}

// pipelineType: pipelines of the types Drone runs elsewhere (exec, ssh,
// vm, ...) are skipped, as drone exec skips what its runner cannot run.
func (p *parser) pipelineType(d *jobDoc, _, v *yaml.Node) {
	t, ok := p.str("type", v)
	if !ok {
		return
	}
	target, known := pipeline.ParseTarget(t)
	if !known || t == "" {
		d.foreign = "type " + quote(t) + " pipelines run on Drone's " + t + " runner; slipway runs docker and kubernetes pipelines"
		d.foreignAt = v
		return
	}
	d.job.Target = target
}

func (p *parser) pipelineName(d *jobDoc, _, v *yaml.Node) {
	if name, ok := p.str("name", v); ok {
		d.job.Name, d.nameNode = name, v
	}
}

// nameAt is where the pipeline's name was given, or the document.
func (d *jobDoc) nameAt() *yaml.Node {
	if d.nameNode != nil {
		return d.nameNode
	}
	return d.root
}

func (p *parser) pipelineDeps(d *jobDoc, k, v *yaml.Node) {
	d.depsKey = k
	d.deps, _ = p.strList("depends_on", v, true)
}

// trigger reads the pipeline's conditions: status: says after what it
// runs (relative to the pipelines before it); the other keys may leave it
// out in this context.
func (p *parser) trigger(d *jobDoc, k, v *yaml.Node) {
	d.job.When, d.skip = p.conditions(v, "trigger")
	d.skipAt = k
}

// branches is Drone 0.x's pipeline-wide branch condition.
func (p *parser) branches(d *jobDoc, k, v *yaml.Node) {
	c, ok := p.condition(v, "branches")
	if ok && !c.match(p.ctx.Branch) {
		d.skip, d.skipAt = "branches does not match branch "+quoteValue(p.ctx.Branch), k
	}
}

func (p *parser) pullSecrets(d *jobDoc, _, v *yaml.Node) {
	names, _ := p.strList("image_pull_secrets", v, false)
	for _, n := range names {
		d.job.PullSecrets = append(d.job.PullSecrets, n.Value)
	}
}

// timeout is a slipway extension: a Go duration ("1h30m") or a number of
// minutes, as Drone's repository setting counts them.
func (p *parser) timeout(d *jobDoc, _, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		if m, err := strconv.Atoi(v.Value); err == nil && m > 0 && m < 1<<20 {
			d.job.Timeout = time.Duration(m) * time.Minute
			return
		}
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		if t, err := time.ParseDuration(v.Value); err == nil && t > 0 {
			d.job.Timeout = t
			return
		}
	}
	p.errorf(v, "timeout: expected a duration such as 90m or 1h30m, or a number of minutes")
}

// workspace reads base and path as drone-runner-docker does: the
// workspace volume is mounted at base, the steps work in base joined with
// path. Without a base, an absolute path is the base, and a relative one
// goes under /drone/src.
func (p *parser) workspace(d *jobDoc, _, v *yaml.Node) {
	pairs, ok := p.mappingOf("workspace", v)
	if !ok {
		return
	}
	var base, rel string
	for _, pr := range pairs {
		switch pr.Key.Value {
		case "base":
			base, ok = p.str("workspace base", pr.Value)
			if ok && !path.IsAbs(base) {
				p.errorf(pr.Value, "workspace base: expected an absolute path")
				return
			}
		case "path":
			rel, _ = p.str("workspace path", pr.Value)
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	switch {
	case base != "":
	case path.IsAbs(rel):
		base, rel = rel, ""
	default:
		base = defaultWorkspace
	}
	ws := path.Join(base, rel)
	if ws == "/" || path.Clean(base) == "/" {
		p.errorf(v, "workspace: the workspace cannot be mounted at /")
		return
	}
	d.job.Workspace, d.wsBase, d.wsPath = ws, path.Clean(base), rel
	if d.wsBase != ws {
		d.job.WorkspaceBase = d.wsBase
	}
}

func (p *parser) nameInUse(d *jobDoc, name string, n *yaml.Node) bool {
	if prev, ok := d.names[name]; ok {
		p.errorf(n, "duplicate step or service name %s (first defined at line %d)", quote(name), prev.Line)
		return true
	}
	d.names[name] = n
	return false
}

// validHost: service names become host names only when they are valid
// ones.
func validHost(name string) bool {
	if name == "" || len(name) > 63 || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
