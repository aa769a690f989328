package gitlab

import (
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// maxCaches is how many caches GitLab allows a job.
const maxCaches = 4

// maxKeyFiles is how many files GitLab allows in cache:key:files.
const maxKeyFiles = 2

// caches reads cache:, a map or a list of maps, as written: variables are
// expanded per job (jobCaches). An empty list or map is "no cache",
// which overrides default: cache:. ok is false when nothing usable was
// read, so a broken value is not inherited half-read.
func (p *parser) caches(n *yaml.Node) ([]*pipeline.Cache, bool) {
	v := p.value(n)
	if v == nil {
		return nil, false
	}
	items := []*yaml.Node{v}
	switch {
	case v.Kind == yaml.SequenceNode:
		items = v.Content
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
		return nil, true
	case v.Kind != yaml.MappingNode:
		p.errorf(v, "cache: expected a map or a list of maps, got %s", yamlutil.Describe(v))
		return nil, false
	}
	if len(items) > maxCaches {
		p.errorf(v, "cache: a job can have at most %d caches, got %d", maxCaches, len(items))
		return nil, false
	}
	var out []*pipeline.Cache
	ok := true
	for _, it := range items {
		it = p.value(it)
		if it == nil {
			ok = false
			continue
		}
		if it.Kind == yaml.MappingNode && len(it.Content) == 0 {
			continue // cache: {} in a list: nothing
		}
		c, good := p.cache(it)
		ok = ok && good
		if c != nil {
			out = append(out, c)
		}
	}
	return out, ok
}

// cache reads one cache map.
func (p *parser) cache(n *yaml.Node) (*pipeline.Cache, bool) {
	entries, ok := p.mapping("cache", n)
	if !ok {
		return nil, false
	}
	before := len(p.errs)
	c := &pipeline.Cache{Pos: p.pos(n), Key: "default"}
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "key":
			p.cacheKey(e.Value, c)
		case "paths":
			c.Paths = p.globs("cache: paths", e.Value)
		case "untracked":
			c.Untracked, _ = p.boolean("cache: untracked", e.Value)
		case "policy":
			c.Policy = p.cachePolicy(e.Value)
		case "when":
			c.When = p.saveWhen("cache: when", e.Value)
		case "fallback_keys":
			c.FallbackKeys, _ = p.stringList("cache: fallback_keys", e.Value)
			for i, k := range c.FallbackKeys {
				p.checkKey("cache: fallback_keys", p.value(e.Value).Content[i], k)
			}
		case "unprotect":
			// GitLab keeps protected branches' caches apart; a local run
			// has no protected branches.
		default:
			p.warnf(e.Key, "unknown key %s in cache:", k)
		}
	}
	return c, len(p.errs) == before
}

// cacheKey reads key: a string (variables allowed), or {files, prefix}.
func (p *parser) cacheKey(n *yaml.Node, c *pipeline.Cache) {
	v := p.value(n)
	if v == nil {
		return
	}
	if v.Kind != yaml.MappingNode {
		// GitLab takes a number as its string form (key: 1).
		if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!int" || v.ShortTag() == "!!float") {
			c.Key = v.Value
			return
		}
		if s, ok := p.str("cache: key", v); ok {
			p.checkKey("cache: key", v, s)
			c.Key = s
		}
		return
	}
	c.Key = ""
	for _, e := range p.pairs(v) {
		switch k := e.Key.Value; k {
		case "files":
			c.KeyFiles = p.globs("cache: key: files", e.Value)
			if len(c.KeyFiles) == 0 || len(c.KeyFiles) > maxKeyFiles {
				p.errorf(p.value(e.Value), "cache: key: files: expected one or two files, got %d", len(c.KeyFiles))
			}
		case "prefix":
			if s, ok := p.str("cache: key: prefix", e.Value); ok {
				p.checkKey("cache: key: prefix", e.Value, s)
				c.KeyPrefix = s
			}
		default:
			p.errorf(e.Key, "cache: key: unknown key %s (expected files or prefix)", k)
		}
	}
	if c.KeyFiles == nil {
		p.errorf(v, "cache: key: files is required when key is a map")
	}
}

// checkKey refuses what GitLab refuses in a key: a "/" (or its URL form
// %2F), and a key of dots only (a path's "." or "..").
func (p *parser) checkKey(what string, n *yaml.Node, s string) {
	switch {
	case strings.Contains(s, "/") || strings.Contains(strings.ToUpper(s), "%2F"):
		p.errorf(p.value(n), "%s: %q must not contain \"/\" or \"%%2F\"", what, s)
	case dotsOnly.MatchString(s):
		p.errorf(p.value(n), "%s: %q must not be only dots", what, s)
	}
}

var dotsOnly = regexp.MustCompile(`^(\.|%2[eE])+$`)

// globs reads a list of workspace globs.
func (p *parser) globs(key string, n *yaml.Node) []string {
	globs, _ := p.stringList(key, n)
	for _, g := range globs {
		if !doublestar.ValidatePattern(g) {
			p.errorf(n, "%s: %q is not a valid glob", key, g)
		}
	}
	return globs
}

func (p *parser) cachePolicy(n *yaml.Node) pipeline.CachePolicy {
	s, ok := p.str("cache: policy", n)
	switch {
	case !ok:
	case s == "pull-push":
		return pipeline.PullPush
	case s == "pull":
		return pipeline.Pull
	case s == "push":
		return pipeline.Push
	case strings.Contains(s, "$"):
		// GitLab expands a variable here when the job runs; slipway
		// decides the policy from the file.
		p.warnf(n, "cache: policy: %q uses a variable, which slipway does not expand here; pull-push is used", s)
	default:
		p.errorf(p.value(n), "cache: policy: expected pull, push or pull-push, got %q", s)
	}
	return pipeline.PullPush
}

// jobCaches are the caches the job ends with: a copy of each, its keys'
// variables expanded with the job's, paths made relative to the
// workspace. CACHE_FALLBACK_KEY, when the job has it (or --env gives
// it), is the last fallback, as in GitLab.
func jobCaches(list []*pipeline.Cache, lookup lookupFunc, workspace string) []*pipeline.Cache {
	if len(list) == 0 {
		return nil
	}
	fallback, _ := lookup("CACHE_FALLBACK_KEY")
	out := make([]*pipeline.Cache, len(list))
	for i, c := range list {
		cc := *c
		cc.Key = expandString(c.Key, lookup)
		cc.KeyPrefix = expandString(c.KeyPrefix, lookup)
		cc.FallbackKeys = expandAll(c.FallbackKeys, lookup)
		if fallback != "" {
			cc.FallbackKeys = append(cc.FallbackKeys, fallback)
		}
		cc.Paths = expandAll(c.Paths, lookup)
		for i, p := range cc.Paths {
			// $CI_PROJECT_DIR/x is x, as gitlab-runner reads it.
			if rel, ok := strings.CutPrefix(p, workspace+"/"); ok {
				cc.Paths[i] = rel
			}
		}
		out[i] = &cc
	}
	return out
}
