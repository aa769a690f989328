package gitlab

import (
	"regexp"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// A job's secrets: are the secrets it asks for by name. GitLab fetches
// each from a provider (vault:, gcp_secret_manager:, ...); a local run has
// no provider to ask, so slipway takes the value given with
// --secret NAME=VALUE and says so. As in GitLab, the variable holds the
// path of a file with the value unless the secret says file: false.

// secretProviders are the provider keys GitLab knows.
var secretProviders = keySet(`vault gcp_secret_manager azure_key_vault aws_secrets_manager akeyless gitlab_secrets_manager`)

// secretNameRE is a variable name a shell can export.
var secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secrets reads secrets: {NAME: {vault: ..., file: false, token: ...}}.
func (p *parser) secrets(n *yaml.Node) []pipeline.EnvVar {
	entries, ok := p.mapping("secrets", n)
	if !ok {
		return nil
	}
	var out []pipeline.EnvVar
	for _, e := range entries {
		name := e.Key.Value
		if !secretNameRE.MatchString(name) {
			p.errorf(e.Key, "secrets: %q is not a variable name (letters, digits and _)", name)
			continue
		}
		v := pipeline.EnvVar{Name: name, FromSecret: name, File: true}
		if p.secretOptions(name, e, &v) {
			out = append(out, v)
		}
	}
	return out
}

// secretOptions reads one secret's keys; the provider is named in a
// warning, since the value comes from --secret instead.
func (p *parser) secretOptions(name string, e yamlutil.Pair, v *pipeline.EnvVar) bool {
	entries, ok := p.mapping("secrets: "+name, e.Value)
	if !ok {
		return false
	}
	provider := ""
	for _, o := range entries {
		switch k := o.Key.Value; {
		case k == "file":
			file, ok := p.boolean("file", o.Value)
			if !ok {
				return false
			}
			v.File = file
		case k == "token":
		case secretProviders[k]:
			provider = k
		default:
			p.warnf(o.Key, "unknown key %s", k)
		}
	}
	if provider == "" {
		p.errorf(e.Key, "secrets: %s names no provider (vault:, gcp_secret_manager:, azure_key_vault:, aws_secrets_manager:, akeyless:, gitlab_secrets_manager:)", name)
		return false
	}
	p.warnf(e.Key, "secrets: %s is taken from --secret %s=VALUE; slipway does not contact %s", name, name, provider)
	return true
}
