package gitlab

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// jobImage is a job's image: option, decoded.
type jobImage struct {
	img        pipeline.Image
	entrypoint []string
}

// service is a services: entry, decoded; it becomes a pipeline.Service
// per job once the job's variables and its other services are known.
type service struct {
	img        pipeline.Image
	pos        pipeline.Pos
	entrypoint []string
	command    []string
	aliases    []string // default aliases, then the user's
	user       []string // the user's aliases alone
	env        []variable
}

// imageOf reads image: (a string, or a map with name, entrypoint and
// pull_policy).
func (p *parser) imageOf(n *yaml.Node) (*jobImage, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if _, ok := p.plainString(n); ok {
		img, ok := p.imageName("image", n)
		return &jobImage{img: img}, ok
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "image: expected a string or a map with name, got %s", yamlutil.Describe(n))
		return nil, false
	}
	ji := &jobImage{}
	var name *yaml.Node
	ok := true
	for _, e := range p.pairs(n) {
		good := true
		switch k := e.Key.Value; k {
		case "name":
			name = e.Value
		case "entrypoint":
			ji.entrypoint, good = p.entrypoint("image: entrypoint", e.Value)
		case "pull_policy":
			ji.img.Pull, good = p.pullPolicy(e.Value)
		default:
			p.unknownImageKey(e.Key)
		}
		ok = ok && good
	}
	img, good := p.mapImageName("image", n, name, ji.img.Pull)
	if img == nil {
		return nil, false
	}
	ji.img = *img
	return ji, ok && good
}

// mapImageName reads the name: of an image or service map (required),
// keeping the pull_policy read beside it.
func (p *parser) mapImageName(key string, n, name *yaml.Node, pull []pipeline.PullPolicy) (*pipeline.Image, bool) {
	if name == nil {
		p.errorf(n, "%s: name is required in the map form", key)
		return nil, false
	}
	img, good := p.imageName(key+": name", name)
	img.Pull = pull
	return &img, good
}

func (p *parser) unknownImageKey(k *yaml.Node) {
	if ignoredImageKeys[k.Value] {
		p.warnf(k, "key %s is not supported by slipway and is ignored", k.Value)
		return
	}
	p.warnf(k, "unknown key %s", k.Value)
}

// imageName parses an image name with image.Parse. A name holding a
// variable ($CI_REGISTRY_IMAGE:tag) can only be parsed once the runner
// has expanded it, so it is kept as written with an empty Ref.
func (p *parser) imageName(key string, n *yaml.Node) (pipeline.Image, bool) {
	if n = p.value(n); n == nil {
		return pipeline.Image{}, false
	}
	s, ok := p.str(key, n)
	if !ok {
		return pipeline.Image{}, false
	}
	img := pipeline.Image{Name: s, Pos: p.pos(n)}
	if strings.Contains(s, "$") {
		return img, true
	}
	ref, err := p.parseImage(s)
	if err != nil {
		p.errorf(n, "%s: %v", key, err)
		return img, false
	}
	img.Ref = ref.String()
	return img, true
}

// entrypoint reads an exec-form entrypoint. [""] clears the image's
// entrypoint (an empty, non-nil slice); [] or absence keeps it (nil).
func (p *parser) entrypoint(key string, n *yaml.Node) ([]string, bool) {
	ep, ok := p.stringList(key, n)
	switch {
	case !ok:
		return nil, false
	case len(ep) == 1 && ep[0] == "":
		return []string{}, true
	case len(ep) == 0:
		return nil, true
	}
	return ep, true
}

var pullPolicies = map[string]pipeline.PullPolicy{
	"always":         pipeline.PullAlways,
	"if-not-present": pipeline.PullIfNotExists,
	"never":          pipeline.PullNever,
}

// pullPolicy reads pull_policy: one policy or a list tried in order.
func (p *parser) pullPolicy(n *yaml.Node) ([]pipeline.PullPolicy, bool) {
	names, ok := p.stringOrList("pull_policy", n)
	if !ok {
		return nil, false
	}
	var out []pipeline.PullPolicy
	for i, s := range names {
		pp, known := pullPolicies[s]
		if !known {
			at := p.value(n)
			if at.Kind == yaml.SequenceNode {
				at = at.Content[i]
			}
			p.errorf(at, "pull_policy: unknown policy %q: expected always, if-not-present or never", s)
			ok = false
			continue
		}
		if !slices.Contains(out, pp) {
			out = append(out, pp)
		}
	}
	return out, ok
}

// services reads services: a list of strings or maps.
func (p *parser) services(n *yaml.Node) ([]*service, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "services: expected a list of images (strings or maps with name), got %s", yamlutil.Describe(n))
		return nil, false
	}
	if !p.charge(len(n.Content), n) {
		return nil, false
	}
	out := make([]*service, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		s, good := p.service(c)
		if good {
			out = append(out, s)
		}
		ok = ok && good
	}
	return out, ok
}

func (p *parser) service(n *yaml.Node) (*service, bool) {
	if n = p.value(n); n == nil {
		return nil, false
	}
	if _, ok := p.plainString(n); ok {
		img, ok := p.imageName("services", n)
		s := &service{img: img, pos: p.pos(n)}
		s.aliases = p.defaultAliases(img)
		if len(s.aliases) == 0 && ok {
			p.warnf(n, "services: the image name uses variables, so slipway cannot derive a host name from it; use the map form with alias:")
		}
		return s, ok
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "services: expected a string or a map with name, got %s", yamlutil.Describe(n))
		return nil, false
	}
	return p.serviceMap(n)
}

func (p *parser) serviceMap(n *yaml.Node) (*service, bool) {
	s := &service{pos: p.pos(n)}
	var name *yaml.Node
	ok := true
	for _, e := range p.pairs(n) {
		good := true
		switch k := e.Key.Value; k {
		case "name":
			name = e.Value
		case "alias":
			s.user, good = p.aliases(e.Value)
		case "entrypoint":
			s.entrypoint, good = p.entrypoint("services: entrypoint", e.Value)
		case "command":
			s.command, good = p.stringList("services: command", e.Value)
		case "variables":
			s.env = p.variables("services: variables", e.Value)
		case "pull_policy":
			s.img.Pull, good = p.pullPolicy(e.Value)
		default:
			p.unknownImageKey(e.Key)
		}
		ok = ok && good
	}
	img, good := p.mapImageName("services", n, name, s.img.Pull)
	if img == nil {
		return nil, false
	}
	s.img = *img
	s.aliases = append(p.defaultAliases(s.img), s.user...)
	if len(s.aliases) == 0 && good {
		p.warnf(name, "services: the image name uses variables, so slipway cannot derive a host name from it; set alias:")
	}
	return s, ok && good
}

// hostRE is what slipway accepts as a service alias: letters, digits,
// dots, dashes and underscores (GitLab's own default aliases use "__").
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$`)

// aliases reads alias:. Several aliases separated by commas or spaces
// are accepted (a slipway extension; GitLab takes one).
func (p *parser) aliases(n *yaml.Node) ([]string, bool) {
	s, ok := p.str("alias", n)
	if !ok {
		return nil, false
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(fields) == 0 {
		p.errorf(n, "alias: expected a host name, got an empty string")
		return nil, false
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range fields {
		if !hostRE.MatchString(a) {
			p.errorf(n, "alias: invalid host name %q: use letters, digits, '.', '-' and '_'", a)
			ok = false
			continue
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, p.charge(len(fields), n) && ok
}

// defaultAliases are the host names GitLab derives from a service image:
// the name as written without tag or digest, "/" replaced by "__"
// (primary) and by "-" (secondary, only if different). A registry's
// :port is dropped, as gitlab-runner's SplitNameAndVersion does
// (registry.example.com:5000/postgres -> registry.example.com__postgres).
// The tag and digest are cut using the parsed reference, so the port
// colon is never mistaken for a tag separator.
func (p *parser) defaultAliases(img pipeline.Image) []string {
	if img.Ref == "" {
		return nil // unexpanded variable: nothing reliable to derive
	}
	ref, err := p.parseImage(img.Name)
	if err != nil {
		return nil
	}
	name := img.Name
	if d := ref.Digest(); d != "" {
		name = strings.TrimSuffix(name, "@"+d)
	}
	if t := ref.Tag(); t != "" {
		name = strings.TrimSuffix(name, ":"+t)
	}
	name = dropPort(name)
	primary := strings.ReplaceAll(name, "/", "__")
	secondary := strings.ReplaceAll(name, "/", "-")
	if secondary == primary {
		return []string{primary}
	}
	return []string{primary, secondary}
}

// dropPort removes the :port of the registry part of an image name (the
// part before the first "/"); a name without a registry is unchanged.
func dropPort(name string) string {
	host, rest, found := strings.Cut(name, "/")
	if h, port, ok := strings.Cut(host, ":"); ok && found && isDigits(port) {
		return h + "/" + rest
	}
	return name
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// jobServices turns a job's decoded services into model services: names
// made unique within the job, every YAML variable in each service's
// environment followed by the service's own. A host name answers for the
// first service that claims it only, so DNS is deterministic; a service
// left with no host name at all draws a warning.
func (p *parser) jobServices(specs []*service, vars []variable) []*pipeline.Service {
	set := newServiceSet(nil)
	var out []*pipeline.Service
	for i, s := range specs {
		svc := set.add(p, s, i, serviceEnv(vars, s.env))
		svc.Image = p.expandImage(svc.Image, vars)
		out = append(out, svc)
	}
	return out
}

// serviceSet is the names and host names taken in one job.
type serviceSet struct {
	names map[string]bool
	owner map[string]string // host name -> service name
}

// newServiceSet is the set of the services a job already has.
func newServiceSet(have []*pipeline.Service) *serviceSet {
	set := &serviceSet{names: map[string]bool{}, owner: map[string]string{}}
	for _, svc := range have {
		set.names[svc.Name] = true
		for _, a := range svc.Aliases {
			set.owner[a] = svc.Name
		}
	}
	return set
}

// add makes the model of the i-th service of a job, with env.
func (set *serviceSet) add(p *parser, s *service, i int, env []pipeline.EnvVar) *pipeline.Service {
	name := uniqueName(serviceName(s, i), set.names)
	svc := &pipeline.Service{Container: pipeline.Container{
		Name:       name,
		Pos:        s.pos,
		Image:      cloneImage(s.img),
		Entrypoint: slices.Clone(s.entrypoint),
		Command:    slices.Clone(s.command),
		Env:        env,
	}}
	var clash []string
	for _, a := range s.aliases {
		if o, taken := set.owner[a]; taken {
			clash = append(clash, fmt.Sprintf("%q is used by service %s", a, o))
			continue
		}
		set.owner[a] = name
		svc.Aliases = append(svc.Aliases, a)
	}
	if len(svc.Aliases) == 0 && len(clash) > 0 {
		p.warnf2(s.pos, "services: service %s has no host name of its own (%s); set alias: to reach it", name, strings.Join(clash, ", "))
	}
	return svc
}

// serviceName is the first user alias, else the primary default alias.
func serviceName(s *service, i int) string {
	switch {
	case len(s.user) > 0:
		return s.user[0]
	case len(s.aliases) > 0:
		return s.aliases[0]
	}
	return fmt.Sprintf("service-%d", i+1)
}

// uniqueName appends -2, -3... to a name already taken in the job.
func uniqueName(name string, taken map[string]bool) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	taken[n] = true
	return n
}
