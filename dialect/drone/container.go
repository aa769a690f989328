package drone

import (
	"fmt"
	"path"
	"strings"

	"github.com/google/shlex"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// container gathers the keys of a step or a service before it becomes one.
type container struct {
	name string
	// at is where the step or service is: its mapping in the list form,
	// its name in the map form.
	at               *yaml.Node
	img              *yaml.Node
	pull             []pipeline.PullPolicy
	auth             *pipeline.Credentials
	commands         []string
	entrypoint       []string
	command          []string
	env              []pipeline.EnvVar
	settings         []pipeline.EnvVar
	volumes          []pipeline.Volume
	privileged       pipeline.Setting
	host             pipeline.Host
	when             pipeline.When
	skip             string // why when: leaves the step out, or ""
	ignoreFailure    bool
	deps             stepDeps
	user, workingDir string
	detach           bool
	// number is DRONE_STEP_NUMBER: Drone numbers the clone step, then
	// the services, then the steps, in file order.
	number int
	// extra are unknown keys of a Drone 0.x step, which are plugin
	// settings when the step has no commands.
	extra []yamlutil.Pair
}

// containerKey reads one key of a step or service into c.
type containerKey struct {
	read func(p *parser, d *jobDoc, c *container, k, v *yaml.Node)
	// services: the key also applies to services.
	services bool
}

var (
	containerKeys = map[string]containerKey{
		"image":        {(*parser).setImage, true},
		"pull":         {(*parser).setPull, true},
		"auth_config":  {(*parser).setAuth, true},
		"entrypoint":   {(*parser).setEntrypoint, true},
		"command":      {(*parser).setCommand, true},
		"environment":  {(*parser).setEnv, true},
		"secrets":      {(*parser).setSecrets, true},
		"volumes":      {(*parser).setVolumes, true},
		"privileged":   {(*parser).setPrivileged, true},
		"devices":      {(*parser).setDevices, true},
		"cap_add":      {(*parser).setCapAdd, true},
		"network_mode": {(*parser).setNetworkMode, true},
		"user":         {(*parser).setUser, true},
		"working_dir":  {(*parser).setWorkingDir, true},
		"dns":          {(*parser).setDNS, true},
		"dns_search":   {(*parser).setDNSSearch, true},
		"extra_hosts":  {(*parser).setExtraHosts, true},
		"commands":     {(*parser).setCommands, true},
		"detach":       {(*parser).setDetach, false},
		"settings":     {(*parser).setSettings, false},
		"failure":      {(*parser).setFailure, false},
		"depends_on":   {(*parser).setDeps, false},
		"when":         {(*parser).setWhen, true},
		"tmpfs":        {(*parser).setTmpfs, true},
		"group":        {(*parser).setGroup, false},
	}
	// unsupportedContainerKeys are real Drone keys with no place in the
	// model.
	unsupportedContainerKeys = set("resources", "networks",
		"shm_size", "mem_limit",
		"memswap_limit", "cpu_quota", "cpu_shares", "cpu_set", "cpuset", "oom_kill_disable",
		"labels", "ulimits", "sysctls", "cap_drop", "isolation", "logging",
		"stop_grace_period", "ports", "security_context")
)

// containers reads steps (isStep) or services, each either in the list
// form (items with a name, Drone 1.x) or the map form (name: body, 0.x).
func (p *parser) containers(d *jobDoc, v *yaml.Node, key string, isStep bool) {
	switch v.Kind {
	case yaml.SequenceNode:
		for _, item := range v.Content {
			item = yamlutil.Resolve(item)
			if item.Kind != yaml.MappingNode {
				p.errorf(item, "%s: expected a mapping with a name and an image, got %s", key, describe(item))
				continue
			}
			p.container(d, item, nil, isStep)
		}
	case yaml.MappingNode:
		for _, pr := range p.namedContainers(d, v, isStep) {
			if pr.Value.Kind != yaml.MappingNode {
				p.errorf(pr.Value, "%s %s: expected a mapping with an image, got %s", key, quote(pr.Key.Value), describe(pr.Value))
				continue
			}
			p.container(d, pr.Value, pr.Key, isStep)
		}
	default:
		if !isNull(v) {
			form := "a list of " + key
			if d.legacy {
				form = "a mapping of names to " + key
			}
			p.errorf(v, "%s: expected %s, got %s", key, form, describe(v))
		}
	}
}

// namedContainers lists the entries of the map form. Drone 0.x read its
// pipeline: as an ordered list of pairs, so a step name may come back (a
// build step per event, say): those are kept, in file order.
func (p *parser) namedContainers(d *jobDoc, v *yaml.Node, isStep bool) []yamlutil.Pair {
	if !d.legacy || !isStep {
		return p.pairs(v)
	}
	var out []yamlutil.Pair
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := yamlutil.Resolve(v.Content[i])
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			return p.pairs(v) // merge keys and odd keys: the general rules
		}
		out = append(out, yamlutil.Pair{Key: k, Value: yamlutil.Resolve(v.Content[i+1])})
	}
	return out
}

// container reads one step or service; nameKey is its key in the map form.
func (p *parser) container(d *jobDoc, body, nameKey *yaml.Node, isStep bool) {
	c := &container{at: body, number: d.nextNumber(isStep)}
	if nameKey != nil {
		c.name, c.at = nameKey.Value, nameKey
	}
	named := nameKey != nil
	for _, pr := range p.pairs(body) {
		if pr.Key.Value == "name" && nameKey == nil {
			c.name, _ = p.str("name", pr.Value)
			named = true
			continue
		}
		p.containerKey(d, c, pr, isStep)
	}
	p.pluginExtras(c, isStep)
	what := map[bool]string{true: "step", false: "service"}[isStep]
	if !p.checkName(d, c, named, what) {
		return
	}
	img, ok := p.image(c, what)
	if !ok {
		return
	}
	if c.skip != "" {
		// Its name stays known: depends_on on it counts as done.
		p.warnf(c.at, "%s %s is skipped: %s", what, quote(c.name), c.skip)
		if isStep {
			d.skippedSteps++
		}
		return
	}
	if isStep {
		p.addStep(d, c, img)
	} else {
		p.addService(d, c, img)
	}
}

// checkName: a name is required, and unique among the job's steps and
// services.
func (p *parser) checkName(d *jobDoc, c *container, named bool, what string) bool {
	switch {
	case !named:
		p.errorf(c.at, "%s has no name", what)
		return false
	case c.name == "" && c.at.Kind == yaml.ScalarNode:
		p.errorf(c.at, "%s name is empty", what)
		return false
	case c.name == "":
		return false // p.str said why
	}
	if d.legacy && what == "step" && d.legacySteps[c.name] {
		return true // 0.x: a step name may come back
	}
	if d.legacy && what == "step" {
		d.legacySteps[c.name] = true
	}
	return !p.nameInUse(d, c.name, c.at)
}

func (p *parser) containerKey(d *jobDoc, c *container, pr yamlutil.Pair, isStep bool) {
	ck, known := containerKeys[pr.Key.Value]
	switch {
	case known && (isStep || ck.services):
		ck.read(p, d, c, pr.Key, pr.Value)
	case known || unsupportedContainerKeys[pr.Key.Value]:
		where := ""
		if known {
			where = " on services"
		}
		p.warnf(pr.Key, "key %s is not supported by slipway%s and is ignored", quote(pr.Key.Value), where)
	case d.legacy && isStep:
		c.extra = append(c.extra, pr)
	default:
		p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
	}
}

// pluginExtras: a Drone 0.x plugin step takes its unknown keys as settings
// (repo: x becomes PLUGIN_REPO=x); on a step with commands they are typos.
func (p *parser) pluginExtras(c *container, isStep bool) {
	for _, pr := range c.extra {
		if len(c.commands) > 0 || !isStep {
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
			continue
		}
		if e, ok := p.setting(pr); ok {
			c.settings = append(c.settings, e)
		}
	}
}

// image parses the image reference; what is "step" or "service".
func (p *parser) image(c *container, what string) (pipeline.Image, bool) {
	if c.img == nil {
		p.errorf(c.at, "%s %s has no image", what, quote(c.name))
		return pipeline.Image{}, false
	}
	name, ok := p.str("image", c.img)
	if !ok {
		return pipeline.Image{}, false
	}
	ref, err := image.Parse(name)
	if err != nil {
		p.errorf(c.img, "%v", err)
		return pipeline.Image{}, false
	}
	return pipeline.Image{Name: name, Ref: ref.String(), Pull: c.pull, Auth: c.auth, Pos: p.pos(c.img)}, true
}

func (p *parser) addStep(d *jobDoc, c *container, img pipeline.Image) {
	s := &pipeline.Step{
		Container: p.modelContainer(c, img, p.containerEnv(d, c)),
		Commands:  c.commands, IgnoreFailure: c.ignoreFailure, When: c.when, Detach: c.detach,
	}
	if len(c.commands) > 0 {
		s.Shell = pipeline.ShellDrone
	}
	s.PrivilegedPlugin = privilegedPlugin(c, img)
	d.job.Steps = append(d.job.Steps, s)
	d.stepDeps[s] = c.deps
}

// modelContainer is the model of what a step and a service share.
func (p *parser) modelContainer(c *container, img pipeline.Image, env []pipeline.EnvVar) pipeline.Container {
	return pipeline.Container{
		Name: c.name, Pos: p.pos(c.at), Image: img, Entrypoint: c.entrypoint, Command: c.command,
		Env: env, Volumes: c.volumes, Privileged: c.privileged, Host: c.host,
		User: c.user, WorkingDir: c.workingDir,
	}
}

// privilegedPlugins are the images drone-runner-docker runs privileged
// on its own: they run Docker in Docker.
var privilegedPlugins = set("plugins/docker", "plugins/acr", "plugins/ecr", "plugins/gcr", "plugins/heroku", "plugins/gar")

// privilegedPlugin is drone-runner-docker's rule: such an image, any tag,
// used as a plugin (no commands, command, entrypoint or volumes).
func privilegedPlugin(c *container, img pipeline.Image) bool {
	if len(c.commands) > 0 || len(c.command) > 0 || len(c.entrypoint) > 0 || len(c.volumes) > 0 {
		return false
	}
	ref, err := image.Parse(img.Ref)
	return err == nil && ref.Domain() == "docker.io" && privilegedPlugins[ref.Path()]
}

func (p *parser) addService(d *jobDoc, c *container, img pipeline.Image) {
	s := &pipeline.Service{Container: p.modelContainer(c, img, p.containerEnv(d, c)), Commands: c.commands}
	// Services answer on localhost (shared namespace); their name is an
	// extra host name when it is a valid one.
	if validHost(c.name) {
		s.Aliases = []string{c.name}
	} else {
		p.warnf(c.at, "service name %s is not a valid host name; the service is reachable on localhost only", quote(c.name))
	}
	d.job.Services = append(d.job.Services, s)
}

func (p *parser) setImage(_ *jobDoc, c *container, _, v *yaml.Node) { c.img = v }

// setPull: Drone 0.x wrote pull: true for always; false is the default.
// Drone reads the policy names in any case, and takes default (or a name
// it does not know, with a warning here) as its default policy.
func (p *parser) setPull(_ *jobDoc, c *container, _, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		if b, _ := p.boolean("pull", v); b {
			c.pull = []pipeline.PullPolicy{pipeline.PullAlways}
		}
		return
	}
	s, ok := p.str("pull", v)
	if !ok {
		return
	}
	switch pol := pipeline.PullPolicy(strings.ToLower(s)); pol {
	case pipeline.PullAlways, pipeline.PullIfNotExists, pipeline.PullNever:
		c.pull = []pipeline.PullPolicy{pol}
	case "default":
	default:
		p.warnf(v, "pull: %s is not a pull policy (always, if-not-exists, never, default); the default is used, as Drone does", quote(s))
	}
}

// setAuth reads Drone 0.x inline registry credentials. No message here may
// quote a value.
func (p *parser) setAuth(_ *jobDoc, c *container, k, v *yaml.Node) {
	pairs, ok := p.mappingOf("auth_config", v)
	if !ok {
		return
	}
	cred := &pipeline.Credentials{}
	for _, pr := range pairs {
		field := map[string]*string{"username": &cred.Username, "password": &cred.Password, "email": &cred.Email}[pr.Key.Value]
		if field == nil {
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
			continue
		}
		var fieldOK bool
		if *field, fieldOK = p.str("auth_config "+pr.Key.Value, pr.Value); !fieldOK {
			ok = false
		}
	}
	if !ok {
		return // p.str said why
	}
	if cred.Username == "" || cred.Password == "" {
		p.errorf(k, "auth_config: expected a username and a password")
		return
	}
	cred.Name = "auth_config of " + c.name
	c.auth = cred
}

// setCommands: a single string is taken as one command.
func (p *parser) setCommands(_ *jobDoc, c *container, _, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		c.commands = []string{v.Value}
		return
	}
	if isNull(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "commands: expected a list of shell commands, got %s", describe(v))
		return
	}
	for _, item := range v.Content {
		item = yamlutil.Resolve(item)
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			c.commands = append(c.commands, item.Value)
		case item.Kind == yaml.MappingNode:
			// "- echo a: b" is a mapping to YAML; say how to fix it.
			p.errorf(item, `commands: expected a string, got a mapping (quote a command that contains ": ")`)
		default:
			p.errorf(item, "commands: expected a string, got %s", describe(item))
		}
	}
}

// setEntrypoint: [""] and [] clear the image's entrypoint, as in Docker.
func (p *parser) setEntrypoint(_ *jobDoc, c *container, _, v *yaml.Node) {
	args, ok := p.argv(v, "entrypoint")
	if !ok {
		return
	}
	if len(args) == 1 && args[0] == "" {
		args = []string{}
	}
	c.entrypoint = args
}

func (p *parser) setCommand(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.command, _ = p.argv(v, "command")
}

// argv reads an argument list: a list, or a string split into words as
// a shell would (quotes and backslashes), as Drone 0.x split it.
func (p *parser) argv(v *yaml.Node, what string) ([]string, bool) {
	if isNull(v) {
		return nil, true
	}
	if v.Kind == yaml.ScalarNode {
		words, err := shlex.Split(v.Value)
		if err != nil {
			p.errorf(v, "%s: cannot split the string into arguments (%v); write a YAML list", what, err)
			return nil, false
		}
		return append([]string{}, words...), true
	}
	items, ok := p.strList(what, v, false)
	if !ok {
		return nil, false
	}
	out := []string{}
	for _, n := range items {
		out = append(out, n.Value)
	}
	return out, true
}

func (p *parser) setEnv(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.env = mergeEnv(c.env, p.environment(v))
}

func (p *parser) setSecrets(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.env = mergeEnv(c.env, p.secrets(v))
}

func (p *parser) setSettings(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.settings = p.settings(v)
}

func (p *parser) setVolumes(d *jobDoc, c *container, _, v *yaml.Node) {
	c.volumes = append(c.volumes, p.containerVolumes(d, c, v)...)
}

// setPrivileged records where privileged was set: a later layer refuses it
// for untrusted repositories and points there.
func (p *parser) setPrivileged(_ *jobDoc, c *container, k, v *yaml.Node) {
	if b, ok := p.boolean("privileged", v); ok {
		c.privileged = pipeline.Setting{Value: b, Pos: p.pos(k)}
	}
}

func (p *parser) setFailure(_ *jobDoc, c *container, _, v *yaml.Node) {
	s, ok := p.str("failure", v)
	if !ok {
		return
	}
	switch s {
	case "ignore":
		c.ignoreFailure = true
	case "fail":
	default:
		p.errorf(v, "failure: expected ignore or fail, got %s", quote(s))
	}
}

// setWhen: a service's when: decides only whether it runs at all, as in
// drone-runner-docker; services start before the steps, so status: has no
// meaning for them.
func (p *parser) setWhen(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.when, c.skip = p.conditions(v, "when")
}

// setTmpfs reads "tmpfs: [/tmp, /run]" as docker run --tmpfs: a memory
// file system of the container's own at each path.
func (p *parser) setTmpfs(_ *jobDoc, c *container, _, v *yaml.Node) {
	items, _ := p.strList("tmpfs", v, true)
	for _, n := range items {
		target, _, _ := strings.Cut(n.Value, ":") // options (size=...) are the engine's defaults here
		if !path.IsAbs(target) {
			p.errorf(n, "tmpfs: expected an absolute path, got %s", quote(n.Value))
			continue
		}
		c.volumes = append(c.volumes, pipeline.Volume{Source: fmt.Sprintf("tmpfs-%d-%d", c.number, len(c.volumes)+1),
			Target: path.Clean(target), Tmpfs: true, Pos: p.pos(n)})
	}
}

// setGroup: Drone 0.x ran the steps of a group in parallel. Running them
// one after another, in file order, is one valid schedule of that.
func (p *parser) setGroup(_ *jobDoc, _ *container, _, v *yaml.Node) {
	p.str("group", v)
}

func (p *parser) setDetach(_ *jobDoc, c *container, _, v *yaml.Node) {
	c.detach, _ = p.boolean("detach", v)
}

func (p *parser) setDeps(_ *jobDoc, c *container, k, v *yaml.Node) {
	c.deps.key = k
	c.deps.names, _ = p.strList("depends_on", v, true)
}
