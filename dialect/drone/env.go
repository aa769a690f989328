package drone

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// Messages in this file never quote a value: environment values and
// settings are often secrets written inline.

// environment reads the Drone 1.x mapping (NAME: value or NAME:
// {from_secret: secret}) or the Drone 0.x list (- NAME=value).
func (p *parser) environment(v *yaml.Node) []pipeline.EnvVar {
	switch v.Kind {
	case yaml.MappingNode:
		var out []pipeline.EnvVar
		for _, pr := range p.pairs(v) {
			if e, ok := p.envVar(pr); ok {
				out = mergeEnv(out, []pipeline.EnvVar{e})
			}
		}
		return out
	case yaml.SequenceNode:
		return p.envList(v)
	}
	if !isNull(v) {
		p.errorf(v, "environment: expected a mapping of names to values, got %s", describe(v))
	}
	return nil
}

// envList reads the 0.x list form; a "- NAME: value" item (a mapping) is
// taken as meant.
func (p *parser) envList(v *yaml.Node) []pipeline.EnvVar {
	var out []pipeline.EnvVar
	for _, item := range v.Content {
		item = yamlutil.Resolve(item)
		if item.Kind == yaml.MappingNode {
			out = mergeEnv(out, p.environment(item))
			continue
		}
		if item.Kind != yaml.ScalarNode || isNull(item) {
			p.errorf(item, "environment: expected NAME=value, got %s", describe(item))
			continue
		}
		name, value, found := strings.Cut(item.Value, "=")
		if !found {
			p.errorf(item, "environment: expected NAME=value, got a string without =")
			continue
		}
		if p.envName(item, name) {
			out = mergeEnv(out, []pipeline.EnvVar{{Name: name, Value: value}})
		}
	}
	return out
}

func (p *parser) envVar(pr yamlutil.Pair) (pipeline.EnvVar, bool) {
	if !p.envName(pr.Key, pr.Key.Value) {
		return pipeline.EnvVar{}, false
	}
	switch {
	case pr.Value.Kind == yaml.ScalarNode:
		return pipeline.EnvVar{Name: pr.Key.Value, Value: scalar(pr.Value)}, true
	case pr.Value.Kind == yaml.MappingNode:
		if secret, ok := p.fromSecret(pr.Value, "environment "+quote(pr.Key.Value)); ok {
			return pipeline.EnvVar{Name: pr.Key.Value, FromSecret: secret}, true
		}
		return pipeline.EnvVar{}, false
	}
	p.errorf(pr.Value, "environment %s: expected a string, a number, a boolean or {from_secret: name}, got %s",
		quote(pr.Key.Value), describe(pr.Value))
	return pipeline.EnvVar{}, false
}

// envName checks what the container runtime will accept as a name.
func (p *parser) envName(n *yaml.Node, name string) bool {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		p.errorf(n, "environment: %s is not a valid variable name", quote(name))
		return false
	}
	return true
}

// fromSecret reads {from_secret: name}.
func (p *parser) fromSecret(v *yaml.Node, what string) (string, bool) {
	pairs := p.pairs(v)
	if len(pairs) != 1 || pairs[0].Key.Value != "from_secret" {
		p.errorf(v, "%s: expected {from_secret: name}, got a mapping with other keys", what)
		return "", false
	}
	return p.str(what+" from_secret", pairs[0].Value)
}

// secrets reads Drone 0.x step secrets: "- name" exposes secret name as
// $NAME; "- {source: s, target: t}" exposes secret s as $T.
func (p *parser) secrets(v *yaml.Node) []pipeline.EnvVar {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "secrets: expected a list of secret names, got %s", describe(v))
		return nil
	}
	var out []pipeline.EnvVar
	for _, item := range v.Content {
		item = yamlutil.Resolve(item)
		source, target, ok := p.secretRef(item)
		if ok {
			out = mergeEnv(out, []pipeline.EnvVar{{Name: strings.ToUpper(target), FromSecret: source}})
		}
	}
	return out
}

func (p *parser) secretRef(item *yaml.Node) (source, target string, ok bool) {
	if item.Kind != yaml.MappingNode {
		source, ok = p.str("secrets", item)
		return source, source, ok
	}
	for _, pr := range p.pairs(item) {
		switch pr.Key.Value {
		case "source":
			source, _ = p.str("secrets source", pr.Value)
		case "target":
			target, _ = p.str("secrets target", pr.Value)
		default:
			p.warnf(pr.Key, "unknown key %s", quote(pr.Key.Value))
		}
	}
	if source == "" || target == "" {
		p.errorf(item, "secrets: expected a source and a target")
		return "", "", false
	}
	return source, target, true
}

// settings reads a plugin's settings into PLUGIN_* variables the way
// Drone's runners do.
func (p *parser) settings(v *yaml.Node) []pipeline.EnvVar {
	pairs, ok := p.mappingOf("settings", v)
	if !ok {
		return nil
	}
	var out []pipeline.EnvVar
	for _, pr := range pairs {
		if e, ok := p.setting(pr); ok {
			out = mergeEnv(out, []pipeline.EnvVar{e})
		}
	}
	return out
}

var settingName = strings.NewReplacer(".", "_", "-", "_")

// setting converts one setting: scalars as written, {from_secret: x} as a
// secret, a list of scalars joined by commas, anything else as JSON.
func (p *parser) setting(pr yamlutil.Pair) (pipeline.EnvVar, bool) {
	e := pipeline.EnvVar{Name: "PLUGIN_" + strings.ToUpper(settingName.Replace(pr.Key.Value))}
	v := pr.Value
	switch {
	case v.Kind == yaml.ScalarNode:
		e.Value = scalar(v)
		return e, true
	case v.Kind == yaml.MappingNode && len(v.Content) == 2 && yamlutil.Resolve(v.Content[0]).Value == "from_secret":
		secret, ok := p.fromSecret(v, "settings "+quote(pr.Key.Value))
		e.FromSecret = secret
		return e, ok
	case v.Kind == yaml.SequenceNode && allScalars(v):
		var parts []string
		for _, item := range v.Content {
			parts = append(parts, scalar(yamlutil.Resolve(item)))
		}
		e.Value = strings.Join(parts, ",")
		return e, true
	}
	b, err := json.Marshal(p.jsonValue(v))
	if err != nil {
		p.errorf(v, "settings %s: cannot be written as JSON", quote(pr.Key.Value))
		return e, false
	}
	e.Value = string(b)
	return e, true
}

func allScalars(v *yaml.Node) bool {
	for _, item := range v.Content {
		if yamlutil.Resolve(item).Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// jsonValue converts a node for json.Marshal. yamlutil.Load has bounded
// the tree, so the recursion is bounded too.
func (p *parser) jsonValue(v *yaml.Node) any {
	v = yamlutil.Resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, pr := range p.pairs(v) {
			m[pr.Key.Value] = p.jsonValue(pr.Value)
		}
		return m
	case yaml.SequenceNode:
		l := []any{}
		for _, item := range v.Content {
			l = append(l, p.jsonValue(item))
		}
		return l
	}
	return scalarValue(v)
}

// scalarValue types a scalar for JSON; a number JSON cannot hold (0x1f,
// .inf) stays a string.
func scalarValue(v *yaml.Node) any {
	switch v.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		return strings.EqualFold(v.Value, "true")
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return v.Value
}

// mergeEnv joins variable lists; a later list overrides a name an earlier
// one set, in the earlier one's place.
func mergeEnv(lists ...[]pipeline.EnvVar) []pipeline.EnvVar {
	var out []pipeline.EnvVar
	index := map[string]int{}
	for _, list := range lists {
		for _, e := range list {
			if i, ok := index[e.Name]; ok {
				out[i] = e
				continue
			}
			index[e.Name] = len(out)
			out = append(out, e)
		}
	}
	return out
}
