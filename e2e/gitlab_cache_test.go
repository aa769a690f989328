package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// TestGitLabCache: a cache saved by one run is restored by the next run of
// the same project; policy: pull restores but never saves; a key from
// key: files changes when the file does; fallback_keys are tried; the
// caches are volumes of their own, without slipway.run, which `slipway
// cache ls` lists and `slipway cache rm` removes.
func TestGitLabCache(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
default:
  image: {name: busybox:1.35, pull_policy: if-not-present}
stages: [build, test]
build:
  stage: build
  script:
    - test ! -e pulled.txt
    - 'if [ -f deps/made ]; then echo "deps from cache: $(cat deps/made)"; else mkdir -p deps; echo first > deps/made; echo "deps built"; fi'
  cache:
    key: deps-$CI_JOB_NAME
    paths: [deps/]
keyed:
  stage: build
  script:
    - if [ -f out/v ]; then echo "keyed hit $(cat out/v)"; else echo keyed miss; fi
    - mkdir -p out && cat lock.txt > out/v
  cache:
    key: {files: [lock.txt], prefix: lk}
    paths: [out/]
pullonly:
  stage: test
  script:
    - if [ -f deps/made ]; then echo pull-only sees deps; fi
    - mkdir -p deps && echo pulled > pulled.txt && echo changed > deps/made
  cache: {key: deps-build, paths: [deps/, pulled.txt], policy: pull}
fallback:
  stage: test
  script: [test -f deps/made, echo fallback got deps]
  cache: {key: nothing-here, fallback_keys: [deps-build], paths: [deps/], policy: pull}
`, "lock.txt", "v1\n")
	t.Cleanup(func() { removeCaches(t, p.dir) })

	r := p.run("lint")
	wantCode(t, r, 0)
	mustContain(t, r, "cache deps-build (pull-push): deps/\n", "cache lk-(hash of lock.txt) (pull-push): out/\n",
		"cache deps-build (pull): deps/ pulled.txt\n")

	r = p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "deps built\n", "keyed miss\n", "pull-only sees deps\n", "fallback got deps\n",
		"No cache found for nothing-here", "Successfully extracted cache from fallback key deps-build", "Created cache deps-build")
	mustNotContain(t, r, "deps from cache: first\n")

	r = p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "deps from cache: first\n", "keyed hit v1\n")

	p.write("lock.txt", "v2\n")
	r = p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "deps from cache: first\n", "keyed miss\n")

	vols := cacheVolumes(t, p.dir)
	if len(vols) != 3 { // deps-build, lk-<v1>, lk-<v2>
		t.Fatalf("cache volumes %v, want 3", vols)
	}
	for name, labels := range vols {
		if _, ok := labels[engine.LabelRun]; ok {
			t.Errorf("cache volume %s carries %s", name, engine.LabelRun)
		}
	}

	r = p.run("cache", "ls", "--project", p.dir)
	wantCode(t, r, 0)
	mustContain(t, r, "PROJECT", p.dir, "deps-build", " lk-")
	if n := strings.Count(r.stdout, p.dir); n != 3 {
		t.Errorf("cache ls lists %d caches of the project, want 3:\n%s", n, r.stdout)
	}
	r = p.run("cache", "rm", "--project", p.dir, "deps-build")
	wantCode(t, r, 0)
	mustContain(t, r, "removed 1 cache(s)")
	r = p.run("cache", "ls", "--project", p.dir)
	mustNotContain(t, r, "deps-build")
	r = p.run("cache", "rm", "--project", p.dir)
	wantCode(t, r, 2)
	r = p.run("cache", "rm", "--project", p.dir, "--all")
	wantCode(t, r, 0)
	mustContain(t, r, "removed 2 cache(s)")
	if vols := cacheVolumes(t, p.dir); len(vols) != 0 {
		t.Errorf("left after cache rm --all: %v", vols)
	}
}

// cacheVolumes are the cache volumes of the project in dir, with their
// labels.
func cacheVolumes(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := client.Filters{}.Add("label", engine.LabelCacheProject+"="+dir)
	v, err := cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, vol := range v.Items {
		out[vol.Name] = vol.Labels
	}
	return out
}

// removeCaches removes the cache volumes of the project in dir.
func removeCaches(t *testing.T, dir string) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Error(err)
		return
	}
	defer cli.Close()
	for name := range cacheVolumes(t, dir) {
		if _, err := cli.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{}); err != nil {
			t.Errorf("remove cache volume %s: %v", name, err)
		}
	}
}
