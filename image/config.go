package image

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
)

// hubKey is the key Docker stores Docker Hub credentials under, and the
// server URL it asks credential helpers about.
const hubKey = "https://index.docker.io/v1/"

// lookupConfig is one config.json document's answer for ref, in
// gitlab-runner's order (its ReadAuthConfigsFromReader lets credHelpers
// override credsStore, and credsStore override auths): credHelpers for
// the registry, then credsStore, then auths. A helper that has nothing
// passes to the next step. A registry credHelpers maps to "" (Docker's
// opt-out) never reaches credsStore.
//
// docker/cli's ConfigFile.GetCredentialsStore is not used: it lets
// auths shadow credsStore, reads the process's DOCKER_AUTH_CONFIG, matches
// Docker Hub only under its v1 URL, knows no registry paths, and picks
// among equivalent keys in map order. Its parser, and the helper protocol
// client, are used.
func lookupConfig(ctx context.Context, name string, cf *configfile.ConfigFile, ref Reference) (Auth, bool, error) {
	host := ref.Domain()
	helper, optOut := "", false
	if keys := matchingKeys(cf.CredentialHelpers, ref); len(keys) > 0 {
		helper = cf.CredentialHelpers[keys[0]]
		optOut = helper == ""
	}
	if helper != "" {
		if a, ok, err := fromHelper(ctx, helper, host, "credHelpers in "+name); err != nil || ok {
			return withSource(a, name), ok, err
		}
	}
	if cf.CredentialsStore != "" && !optOut {
		if a, ok, err := fromHelper(ctx, cf.CredentialsStore, host, "credsStore in "+name); err != nil || ok {
			return withSource(a, name), ok, err
		}
	}
	if a, ok := fromAuths(cf, ref); ok {
		return withSource(a, name), true, nil
	}
	return Auth{}, false, nil
}

// fromAuths is the best non-empty auths entry for host. An empty entry is
// the placeholder `docker login` leaves when a credsStore holds the secret:
// not a match.
func fromAuths(cf *configfile.ConfigFile, ref Reference) (Auth, bool) {
	host := ref.Domain()
	for _, k := range matchingKeys(cf.AuthConfigs, ref) {
		ac := cf.AuthConfigs[k]
		a := Auth{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken,
			RegistryToken: ac.RegistryToken, ServerAddress: authKey(host)}
		if !a.IsZero() {
			return a, true
		}
	}
	return Auth{}, false
}

func withSource(a Auth, name string) Auth {
	a.Source = name
	return a
}

// loadConfig parses a config.json with docker/cli, after checking the JSON
// ourselves: docker/cli ignores trailing garbage and its errors may quote
// the document (a number in an auths entry, say), which is secret.
func loadConfig(data []byte) (*configfile.ConfigFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &configfile.ConfigFile{}, nil // an empty variable: no credentials
	}
	var syntax *json.SyntaxError
	if err := json.Unmarshal(data, new(any)); errors.As(err, &syntax) {
		return nil, fmt.Errorf("not valid JSON (at byte %d)", syntax.Offset)
	} else if err != nil {
		return nil, errors.New("not valid JSON")
	}
	cf, err := config.LoadFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, describeConfigError(err, data)
	}
	return cf, nil
}

// describeConfigError says what is wrong without quoting any value.
func describeConfigError(err error, data []byte) error {
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return errors.New("not a Docker config.json: want a JSON object")
	case errors.As(err, &typ):
		return fmt.Errorf("not a Docker config.json: %q has the wrong type", typ.Field)
	case errors.As(err, &b64):
		return fmt.Errorf(`the "auth" of %q is not valid base64`, badAuthKey(data))
	default: // decodeAuth's "invalid auth configuration file": no colon, or no user
		return fmt.Errorf(`the "auth" of %q is not base64 of "username:password"`, badAuthKey(data))
	}
}

// badAuthKey finds the auths entry docker/cli rejected, so that the error
// can name the registry; LoadFromReader's error does not.
func badAuthKey(data []byte) string {
	var raw struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if json.Unmarshal(data, &raw) != nil {
		return "?"
	}
	for _, k := range slices.Sorted(maps.Keys(raw.Auths)) {
		one, _ := json.Marshal(map[string]any{"auths": map[string]json.RawMessage{k: raw.Auths[k]}})
		if _, err := config.LoadFromReader(bytes.NewReader(one)); err != nil {
			return k
		}
	}
	return "?"
}

// matchingKeys lists the keys of a credHelpers or auths map that name
// ref's registry, best first: the longest path (a key
// registry.local/team-a is for the images under team-a, and beats
// registry.local), then Docker's own key for the host, then the bare
// host, then other spellings (https://host/v2/) in sorted order, so that
// the choice never depends on map order.
func matchingKeys[V any](m map[string]V, ref Reference) []string {
	host, repo := ref.Domain(), ref.Path()
	var keys []string
	plen := map[string]int{}
	for k := range m {
		h, p := splitKey(k)
		if sameRegistry(h, host) && (p == "" || repo == p || strings.HasPrefix(repo, p+"/")) {
			keys = append(keys, k)
			plen[k] = len(p)
		}
	}
	rank := func(k string) int {
		switch k {
		case authKey(host):
			return 0
		case host:
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(plen[b], plen[a]), cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
	})
	return keys
}

// splitKey reads a credHelpers or auths key as a registry host and a
// repository path: a scheme and an API version suffix (https://host/v1/,
// host/v2) are dropped, as Docker's ConvertToHostname drops them, but a
// path that is not a version is kept (registry.local/team-a).
func splitKey(k string) (host, path string) {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	host, path, _ = strings.Cut(k, "/")
	path = strings.Trim(path, "/")
	if path == "v1" || path == "v2" {
		path = ""
	}
	return host, path
}

// sameRegistry compares hosts, port included (registry.example.com is not
// registry.example.com:5000), ignoring case as DNS does; Docker Hub's
// names are all one registry.
func sameRegistry(a, b string) bool { return strings.EqualFold(a, b) || isHub(a) && isHub(b) }

func isHub(host string) bool {
	switch strings.ToLower(host) {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return true
	}
	return false
}

// authKey is the name Docker gives host's credentials: Docker Hub's v1 URL
// for Docker Hub, the host itself otherwise.
func authKey(host string) string {
	if isHub(host) {
		return hubKey
	}
	return host
}

// SecretValues lists what a config.json document holds that must never be
// printed: each entry's password, tokens, and "username:password" (whose
// base64 is the auth field, which a masker then also hides). A document
// that does not parse holds nothing this can find.
func SecretValues(doc []byte) []string {
	cf, err := loadConfig(doc)
	if err != nil {
		return nil
	}
	var out []string
	for _, ac := range cf.AuthConfigs {
		out = append(out, CredentialValues(ac.Username, ac.Password)...)
		out = append(out, ac.IdentityToken, ac.RegistryToken)
	}
	return nonEmpty(out)
}

// CredentialValues are the forms of a username and password to hide: the
// password, and "username:password", the form the auth field encodes. The
// username alone is not a secret, and hiding it would hide every image
// name it is part of (a registry user "slipway" and an image
// "slipway-ci/app").
func CredentialValues(username, password string) []string {
	out := []string{password}
	if username != "" && password != "" {
		out = append(out, username+":"+password)
	}
	return nonEmpty(out)
}

func nonEmpty(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
