package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/slipway-ci/slipway/pipeline"
)

// Auth is the credentials found for one registry. It never prints its
// secrets: String, GoString, Format, MarshalJSON and LogValue all show only
// the registry and where the credentials came from.
type Auth struct {
	Username      string
	Password      string
	IdentityToken string // an OAuth refresh token (docker login with a token)
	RegistryToken string // a bearer token sent to the registry as-is
	// ServerAddress is the registry key as Docker names it:
	// https://index.docker.io/v1/ for Docker Hub, else host[:port].
	ServerAddress string
	// Source names where the credentials came from (a Source's Name).
	Source string
}

// IsZero reports that there are no credentials: pull anonymously.
func (a Auth) IsZero() bool {
	return a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == ""
}

func (a Auth) String() string {
	if a.IsZero() {
		return "no credentials"
	}
	return fmt.Sprintf("credentials for %s from %s", a.ServerAddress, a.Source)
}

// GoString keeps %#v as safe as %v.
func (a Auth) GoString() string { return "image.Auth{" + a.String() + "}" }

// Format makes every verb (%d, %x, %+v, ...) print String, never a field.
func (a Auth) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, a.GoString())
		return
	}
	_, _ = io.WriteString(f, a.String())
}

// MarshalJSON keeps credentials out of plans, logs and API answers.
func (a Auth) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// LogValue keeps credentials out of slog output.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Source is one place credentials may come from. Set exactly one of Config,
// Path and Inline.
type Source struct {
	// Name says where this is for people: "DOCKER_AUTH_CONFIG variable",
	// "/root/.docker/config.json", "secret dockerconfig". Errors name a
	// source by it and never quote its content.
	Name string
	// Config is a Docker config.json document (DOCKER_AUTH_CONFIG, a Drone
	// pull secret). Empty means no credentials.
	Config []byte
	// Path is a config.json file; a missing file has no credentials.
	Path string
	// Legacy says Path is in the format of ~/.dockercfg: the auths map
	// alone, without the "auths" key around it.
	Legacy bool
	// Inline is credentials attached to the image itself (Drone 0.x
	// auth_config); they match whatever registry the image is on.
	Inline *pipeline.Credentials
}

// Format prints only the name: Config holds secrets.
func (s Source) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, "source("+s.Name+")") }

// PullSecret is a Drone image_pull_secrets entry with its value resolved.
type PullSecret struct {
	Name  string
	Value string // a config.json document
}

// Format prints only the name.
func (p PullSecret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, "secret("+p.Name+")") }

// AuthConfigVar is the variable GitLab reads registry credentials from.
const AuthConfigVar = "DOCKER_AUTH_CONFIG"

// Origins is everything the runner knows that may hold credentials for one
// image; Sources orders it. The runner process's own DOCKER_AUTH_CONFIG is
// deliberately not an origin: GitLab Runner reads it only from config.toml.
type Origins struct {
	Inline      *pipeline.Credentials // Drone 0.x auth_config on the image
	JobEnv      []string              // the job's variables (YAML, project, --env) as KEY=VALUE; the last wins
	PullSecrets []PullSecret          // Drone image_pull_secrets, in the order listed
	RunnerEnv   []string              // the runner configuration's environment list, KEY=VALUE
	Getenv      func(string) string   // reads DOCKER_CONFIG and HOME; nil means os.Getenv
}

// Format prints no values: the environments hold secrets.
func (o Origins) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, "image.Origins{...}") }

// Sources lists the origins highest priority first; Resolve takes the first
// that has credentials for the image's registry. The order is GitLab's
// (job variable, runner environment, the runner user's config.json), with
// Drone's per-image auth_config above everything and its pipeline-level
// pull secrets beside the job variable, above anything the runner holds.
func (o Origins) Sources() []Source {
	var out []Source
	if o.Inline != nil {
		out = append(out, Source{Name: "auth_config in the pipeline", Inline: o.Inline})
	}
	if v, ok := LookupEnv(o.JobEnv, AuthConfigVar); ok {
		out = append(out, Source{Name: AuthConfigVar + " variable", Config: []byte(v)})
	}
	for _, s := range o.PullSecrets {
		out = append(out, Source{Name: "secret " + s.Name, Config: []byte(s.Value)})
	}
	if v, ok := LookupEnv(o.RunnerEnv, AuthConfigVar); ok {
		out = append(out, Source{Name: AuthConfigVar + " in the runner configuration's environment", Config: []byte(v)})
	}
	if p := userConfigPath(o.Getenv); p != "" {
		out = append(out, Source{Name: p, Path: p})
	}
	// gitlab-runner's last fallback: the format before config.json.
	if home := getenvOr(o.Getenv)("HOME"); home != "" {
		p := filepath.Join(home, ".dockercfg")
		out = append(out, Source{Name: p, Path: p, Legacy: true})
	}
	return out
}

func getenvOr(getenv func(string) string) func(string) string {
	if getenv == nil {
		return os.Getenv
	}
	return getenv
}

// LookupEnv finds key in a KEY=VALUE list; like an environment, the last
// occurrence wins.
func LookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// userConfigPath is $DOCKER_CONFIG/config.json, else
// $HOME/.docker/config.json. docker/cli's config.Dir is not used because it
// caches the first answer for the life of the process.
func userConfigPath(getenv func(string) string) string {
	getenv = getenvOr(getenv)
	if dir := getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".docker", "config.json")
	}
	return ""
}

// Resolve finds the credentials for ref's registry: the first source that
// has some wins, so a lower source is never consulted once a higher one
// matched. ok is false when no source has any (pull anonymously). A
// source that cannot be read or parsed is skipped, as gitlab-runner skips
// it, and warn (if not nil) is told why, naming the source and never its
// content. A failing credential helper stops the search rather than
// silently falling through to credentials the user ranked lower.
func Resolve(ctx context.Context, ref Reference, sources []Source, warn func(string)) (Auth, bool, error) {
	if ref.named == nil {
		return Auth{}, false, errors.New("no image reference")
	}
	for _, s := range sources {
		cf, err := s.load()
		if err != nil {
			if warn != nil {
				warn(err.Error() + "; skipped")
			}
			continue
		}
		a, ok, err := s.lookup(ctx, cf, ref)
		if err != nil || ok {
			return a, ok, err
		}
	}
	return Auth{}, false, nil
}

// load reads and parses the source's config; nil with no error when
// there is nothing to read (a missing file, inline credentials).
func (s Source) load() (*configfile.ConfigFile, error) {
	data := s.Config
	switch {
	case s.Inline != nil:
		return nil, nil
	case s.Path != "":
		var err error
		data, err = os.ReadFile(s.Path)
		if errors.Is(err, os.ErrNotExist) {
			return &configfile.ConfigFile{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("registry credentials in %s: %w", s.Name, err)
		}
	}
	if s.Legacy && len(bytes.TrimSpace(data)) > 0 {
		data = append(append([]byte(`{"auths":`), data...), '}')
	}
	cf, err := loadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("registry credentials in %s: %w", s.Name, err)
	}
	return cf, nil
}

// lookup is one source's answer for ref.
func (s Source) lookup(ctx context.Context, cf *configfile.ConfigFile, ref Reference) (Auth, bool, error) {
	if s.Inline != nil {
		a := Auth{Username: s.Inline.Username, Password: s.Inline.Password, ServerAddress: authKey(ref.Domain()), Source: s.Name}
		return a, !a.IsZero(), nil
	}
	return lookupConfig(ctx, s.Name, cf, ref)
}
