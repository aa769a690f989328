package image

import (
	"os"
	"path/filepath"
	"testing"
)

// As gitlab-runner: an auths key with a path is for the images under it,
// the longest matching path wins; hosts compare without case; URL keys
// are normalised.
func TestResolvePathPrefixAndCase(t *testing.T) {
	entries := map[string]string{
		"registry.local":                "any:1",
		"registry.local/team-a":         "a:1",
		"https://registry.local/team-b": "b:1",
		"registry.local/team-a/sub":     "sub:1",
		"REGISTRY.Example.com:5000":     "upper:1",
		"https://mixed.example.com/v1/": "url:1",
		"other.local/team-a/":           "slash:1",
	}
	for image, want := range map[string]string{
		"registry.local/team-a/app:1":      "a",
		"registry.local/team-a/sub/app":    "sub",
		"registry.local/team-a-other/app":  "any", // a path matches whole components only
		"registry.local/team-b/app":        "b",
		"registry.local/team-c/app":        "any",
		"registry.local/team-a":            "a",
		"registry.example.com:5000/ns/img": "upper",
		"Mixed.Example.com/ns/img":         "url",
		"other.local/team-a/x":             "slash",
		"other.local/team-b/x":             "",
	} {
		a, ok, err := resolve(t, image, []Source{{Name: "cfg", Config: []byte(auths(entries))}})
		if err != nil || ok != (want != "") || a.Username != want {
			t.Errorf("%s: user %q ok=%v err=%v, want %q", image, a.Username, ok, err, want)
		}
	}
}

// gitlab-runner's sources: DOCKER_AUTH_CONFIG, then ~/.docker/config.json,
// then ~/.dockercfg (the map of registries alone), each consulted only
// when those above have nothing for the registry.
func TestResolveDockercfgFallback(t *testing.T) {
	const host = "registry.example.com:5000"
	home := t.TempDir()
	legacy := `{"` + host + `":{"auth":"` + b64("legacy", "pw") + `","email":"x@example.com"},"only.legacy":{"auth":"` + b64("only", "pw") + `"}}`
	if err := os.WriteFile(filepath.Join(home, ".dockercfg"), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Origins{Getenv: env("HOME", home)}
	a, ok, err := resolve(t, private, o.Sources())
	if err != nil || !ok || a.Username != "legacy" || a.Source != filepath.Join(home, ".dockercfg") {
		t.Fatalf(".dockercfg alone: %v ok=%v err=%v", a, ok, err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(auths(map[string]string{host: "modern:pw"})), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := resolve(t, private, o.Sources()); a.Username != "modern" {
		t.Errorf("config.json should beat .dockercfg: got %q", a.Username)
	}
	if a, _, _ := resolve(t, "only.legacy/x", o.Sources()); a.Username != "only" {
		t.Errorf(".dockercfg should answer for what config.json lacks: got %q", a.Username)
	}
	o.JobEnv = []string{AuthConfigVar + "=" + auths(map[string]string{host: "var:pw"})}
	if a, _, _ := resolve(t, private, o.Sources()); a.Username != "var" {
		t.Errorf("DOCKER_AUTH_CONFIG should beat the files: got %q", a.Username)
	}
}
