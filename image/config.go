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
	"github.com/docker/cli/cli/config/credentials"
)

// hubKey is the key Docker stores Docker Hub credentials under, and the
// server URL it asks credential helpers about.
const hubKey = "https://index.docker.io/v1/"

// lookupConfig is one config.json document's answer for host, in the
// spec's order: credHelpers[host], then auths[host], then credsStore. A
// helper that has nothing for host passes to the next step. credsStore is
// the helper for the hosts credHelpers does not mention, as in Docker, so a
// host credHelpers names (even with "", Docker's opt-out) never reaches it.
//
// docker/cli's ConfigFile.GetCredentialsStore is not used: it lets
// credsStore shadow auths, reads the process's DOCKER_AUTH_CONFIG, matches
// Docker Hub only under its v1 URL, and picks among equivalent keys in map
// order. Its parser, host normaliser and the helper protocol client are.
func lookupConfig(ctx context.Context, name string, data []byte, host string) (Auth, bool, error) {
	cf, err := loadConfig(data)
	if err != nil {
		return Auth{}, false, fmt.Errorf("registry credentials in %s: %w", name, err)
	}
	helper, mentioned := "", false
	if keys := matchingKeys(cf.CredentialHelpers, host); len(keys) > 0 {
		helper, mentioned = cf.CredentialHelpers[keys[0]], true
	}
	if helper != "" {
		if a, ok, err := fromHelper(ctx, helper, host, "credHelpers in "+name); err != nil || ok {
			return withSource(a, name), ok, err
		}
	}
	if a, ok := fromAuths(cf, host); ok {
		return withSource(a, name), true, nil
	}
	if cf.CredentialsStore != "" && !mentioned {
		a, ok, err := fromHelper(ctx, cf.CredentialsStore, host, "credsStore in "+name)
		return withSource(a, name), ok, err
	}
	return Auth{}, false, nil
}

// fromAuths is the best non-empty auths entry for host. An empty entry is
// the placeholder `docker login` leaves when a credsStore holds the secret:
// not a match.
func fromAuths(cf *configfile.ConfigFile, host string) (Auth, bool) {
	for _, k := range matchingKeys(cf.AuthConfigs, host) {
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

// matchingKeys lists the keys of a credHelpers or auths map that name host,
// best first: Docker's own key for the host, then the bare host, then
// other spellings (https://host/v2/) in sorted order, so that the choice
// never depends on map order.
func matchingKeys[V any](m map[string]V, host string) []string {
	var keys []string
	for k := range m {
		if sameRegistry(credentials.ConvertToHostname(k), host) {
			keys = append(keys, k)
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
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b)) })
	return keys
}

// sameRegistry compares hosts exactly, port included
// (registry.example.com is not registry.example.com:5000), except that
// Docker Hub's names are all one registry.
func sameRegistry(a, b string) bool { return a == b || isHub(a) && isHub(b) }

func isHub(host string) bool {
	switch host {
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
