package gitlab

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// defaultStages are GitLab's when stages: is not given; .pre and .post
// are always added around the list.
var defaultStages = []string{"build", "test", "deploy"}

// common holds the keywords a job shares with default: (and with the
// deprecated top-level forms). keys records which were written, and
// where, since "set to nothing" (services: []) differs from "not set".
type common struct {
	keys     map[string]*yaml.Node
	image    *jobImage
	services []*service
	before   []string
	after    []string
	timeout  time.Duration
	tags     []string
	cache    []*pipeline.Cache
}

// take copies the value of keyword k from src.
func (c *common) take(k string, src *common) {
	switch k {
	case "image":
		c.image = src.image
	case "services":
		c.services = src.services
	case "before_script":
		c.before = src.before
	case "after_script":
		c.after = src.after
	case "timeout":
		c.timeout = src.timeout
	case "tags":
		c.tags = src.tags
	case "cache":
		c.cache = src.cache
	}
}

// commonKeys are the keywords common holds.
var commonKeys = []string{"image", "services", "before_script", "after_script", "timeout", "tags", "cache"}

// globals is what the top level gives every job.
type globals struct {
	stages   []string
	stageSet map[string]bool
	vars     []variable
	def      common
	workflow *workflow
}

// setCommon decodes one of commonKeys into c. A value that fails to
// decode is not recorded, so it cannot be inherited half-read.
func (p *parser) setCommon(e yamlutil.Pair, c *common) {
	k := e.Key.Value
	ok := false
	switch k {
	case "image":
		c.image, ok = p.imageOf(e.Value)
	case "services":
		c.services, ok = p.services(e.Value)
	case "before_script":
		c.before, ok = p.commands(k, e.Value)
	case "after_script":
		c.after, ok = p.commands(k, e.Value)
	case "timeout":
		c.timeout, ok = p.timeout(k, e.Value)
	case "tags":
		c.tags, ok = p.commands(k, e.Value) // a list, nested by !reference
	case "cache":
		c.cache, ok = p.caches(e.Value)
	}
	if c.keys == nil {
		c.keys = map[string]*yaml.Node{}
	}
	if ok {
		c.keys[k] = e.Key
	}
}

// globals reads the reserved top-level keys.
func (p *parser) globals(entries []yamlutil.Pair) *globals {
	g := &globals{}
	var stages, types *yaml.Node
	var deprecated common
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "stages":
			stages = e.Value
		case "types":
			types = e.Key
			if p.top["stages"].Key == nil {
				stages = e.Value
			}
		case "variables":
			g.vars = p.variables(k, e.Value)
		case "default":
			p.defaults(e.Value, &g.def)
		case "image", "services", "before_script", "after_script", "cache":
			p.setCommon(e, &deprecated)
		case "workflow":
			g.workflow = p.readWorkflow(e.Value)
		}
	}
	if types != nil {
		p.warnf(types, "types is deprecated: use stages")
	}
	g.stages = p.stages(stages)
	g.stageSet = make(map[string]bool, len(g.stages))
	for _, s := range g.stages {
		g.stageSet[s] = true
	}
	p.mergeDeprecated(&deprecated, &g.def)
	return g
}

// mergeDeprecated moves the top-level image, services, before_script and
// after_script into default:. Setting one in both places is ambiguous,
// so it is an error rather than a silent choice.
func (p *parser) mergeDeprecated(top, def *common) {
	if def.keys == nil {
		def.keys = map[string]*yaml.Node{}
	}
	for _, k := range commonKeys {
		at, ok := top.keys[k]
		if !ok {
			continue
		}
		if d, both := def.keys[k]; both {
			p.errorf(at, "%s: also set in default: at line %d; set it in one place", k, d.Line)
			continue
		}
		def.keys[k] = at
		def.take(k, top)
	}
}

// defaults reads default:.
func (p *parser) defaults(n *yaml.Node, c *common) {
	entries, ok := p.mapping("default", n)
	if !ok {
		return
	}
	for _, e := range entries {
		k := e.Key.Value
		switch {
		case slices.Contains(commonKeys, k):
			p.setCommon(e, c)
		case ignoredDefaultKeys[k]:
			p.warnf(e.Key, "key %s is not supported by slipway and is ignored", k)
		default:
			p.warnf(e.Key, "unknown key %s", k)
		}
	}
}

// stages reads stages: and puts .pre first and .post last, as GitLab
// does; they may be written only in those places.
func (p *parser) stages(n *yaml.Node) []string {
	list := slices.Clone(defaultStages)
	if n != nil {
		l, ok := p.stringList("stages", n)
		if !ok {
			return nil
		}
		if !p.checkStages(n, l) {
			return nil
		}
		list = l
	}
	if len(list) == 0 || list[0] != ".pre" {
		list = append([]string{".pre"}, list...)
	}
	if list[len(list)-1] != ".post" {
		list = append(list, ".post")
	}
	return list
}

// checkStages reports empty names, duplicates and misplaced .pre/.post.
func (p *parser) checkStages(n *yaml.Node, l []string) bool {
	items := p.value(n).Content
	seen := map[string]bool{}
	ok := true
	for i, s := range l {
		msg := ""
		switch {
		case strings.TrimSpace(s) == "":
			msg = "stages: a stage name must not be empty"
		case seen[s]:
			msg = fmt.Sprintf("stages: stage %q is listed twice", s)
		case s == ".pre" && i != 0:
			msg = "stages: .pre must be the first stage"
		case s == ".post" && i != len(l)-1:
			msg = "stages: .post must be the last stage"
		}
		if msg != "" {
			p.errorf(items[i], "%s", msg)
			ok = false
		}
		seen[s] = true
	}
	return ok
}
