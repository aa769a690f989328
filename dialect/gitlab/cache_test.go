package gitlab

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// cachesOf are the caches of each job, as JSON without positions.
func cachesOf(t *testing.T, pl *pipeline.Pipeline) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, j := range pl.Jobs() {
		var cs []pipeline.Cache
		for _, c := range j.Caches {
			cc := *c
			cc.Pos = pipeline.Pos{}
			cs = append(cs, cc)
		}
		b, err := json.Marshal(cs)
		if err != nil {
			t.Fatal(err)
		}
		out[j.Name] = strings.ReplaceAll(string(b), `"pos":{"line":0,"column":0},`, "")
	}
	return out
}

// TestCaches: every form of cache:, default: inheritance and inherit:.
func TestCaches(t *testing.T) {
	in := `
variables: {DIR: vendor}
default:
  cache: {key: "$CI_JOB_NAME-k", paths: [$DIR/]}
inherits:
  script: x
own:
  script: x
  variables: {CACHE_FALLBACK_KEY: last}
  cache:
    - key: 7
      paths: [a, "b/**/*.o"]
      untracked: true
      policy: pull
      when: always
      fallback_keys: [main-$DIR]
    - key: {files: [go.sum, go.mod], prefix: mods}
      policy: push
none:
  script: x
  cache: []
no-default:
  script: x
  inherit: {default: [image]}
plain:
  script: x
  cache: {paths: [p, $CI_PROJECT_DIR/.cache/pip]}
`
	got := cachesOf(t, mustParse(t, in, Options{}))
	want := map[string]string{
		"inherits":   `[{"key":"inherits-k","paths":["vendor/"]}]`,
		"own":        `[{"key":"7","fallback_keys":["main-vendor","last"],"paths":["a","b/**/*.o"],"untracked":true,"policy":"pull","when":"always"},{"key_files":["go.sum","go.mod"],"key_prefix":"mods","fallback_keys":["last"],"policy":"push"}]`,
		"none":       `null`,
		"no-default": `null`,
		"plain":      `[{"key":"default","paths":["p",".cache/pip"]}]`,
	}
	for job, w := range want {
		if got[job] != w {
			t.Errorf("%s: caches\n%s\nwant\n%s", job, got[job], w)
		}
	}
}

// TestCacheTopLevel: the deprecated top-level cache: is default: cache:.
func TestCacheTopLevel(t *testing.T) {
	got := cachesOf(t, mustParse(t, "cache: {key: k, paths: [x]}\nj:\n  script: y\n", Options{}))
	if got["j"] != `[{"key":"k","paths":["x"]}]` {
		t.Errorf("caches %s", got["j"])
	}
	_, _, err := Parse("ci.yml", []byte("cache: {paths: [x]}\ndefault: {cache: {paths: [y]}}\nj:\n  script: y\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "ci.yml:1:1: cache: also set in default:") {
		t.Errorf("error %v", err)
	}
}

func TestCacheErrors(t *testing.T) {
	in := `
a:
  script: x
  cache:
    key: a/b
    paths: ["[x"]
    policy: sometimes
    when: later
b:
  script: x
  cache:
    key: {prefix: p}
c:
  script: x
  cache: [{paths: [a]}, {paths: [b]}, {paths: [c]}, {paths: [d]}, {paths: [e]}]
d:
  script: x
  cache: {key: {files: [a, b, c]}, fallback_keys: [".."]}
e:
  script: x
  cache: nope
`
	_, _, err := Parse("ci.yml", []byte(in), Options{})
	for _, want := range []string{
		`ci.yml:5:10: cache: key: "a/b" must not contain "/" or "%2F"`,
		`ci.yml:6:12: cache: paths: "[x" is not a valid glob`,
		`ci.yml:7:13: cache: policy: expected pull, push or pull-push, got "sometimes"`,
		`ci.yml:8:11: cache: when: expected on_success, on_failure or always, got "later"`,
		`ci.yml:12:10: cache: key: files is required when key is a map`,
		`ci.yml:15:10: cache: a job can have at most 4 caches, got 5`,
		`ci.yml:18:24: cache: key: files: expected one or two files, got 3`,
		`ci.yml:18:52: cache: fallback_keys: ".." must not be only dots`,
		`ci.yml:21:10: cache: expected a map or a list of maps, got a string`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(err)
	}
}
