package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
)

func TestCacheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.sum", "a")
	write("sub/lock.json", "b")
	files := &pipeline.Cache{KeyFiles: []string{"go.sum", "**/lock.json"}, KeyPrefix: "deps"}
	if k := cacheKey(&pipeline.Cache{Key: "main-x"}, dir); k != "main-x" {
		t.Errorf("plain key %q", k)
	}
	if k := cacheKey(&pipeline.Cache{}, dir); k != "default" {
		t.Errorf("empty key %q, want default", k)
	}
	first := cacheKey(files, dir)
	if len(first) != len("deps-")+40 || first[:5] != "deps-" {
		t.Errorf("files key %q", first)
	}
	if again := cacheKey(files, dir); again != first {
		t.Errorf("same files, key %q then %q", first, again)
	}
	write("sub/lock.json", "c")
	if changed := cacheKey(files, dir); changed == first {
		t.Errorf("changed file, same key %q", changed)
	}
	none := &pipeline.Cache{KeyFiles: []string{"missing.lock"}, KeyPrefix: "p"}
	if k := cacheKey(none, dir); k != "p-default" {
		t.Errorf("no files: key %q, want p-default", k)
	}
}

// TestExtractCache: files, directories and links come out; nothing is
// written through a link or outside the directory.
func TestExtractCache(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data string) {
		h.Size = int64(len(data))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	out := t.TempDir()
	add(&tar.Header{Name: "vendor/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "vendor/a.txt", Typeflag: tar.TypeReg}, "A")
	add(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: out}, "")
	add(&tar.Header{Name: "esc/owned", Typeflag: tar.TypeReg}, "X")
	add(&tar.Header{Name: "../up", Typeflag: tar.TypeReg}, "X")
	tw.Close()
	dir, err := extractCache(&buf)
	defer os.RemoveAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "vendor", "a.txt")); err != nil || string(b) != "A" {
		t.Errorf("vendor/a.txt: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "esc")); err != nil || l != out {
		t.Errorf("link esc: %q %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(out, "owned")); err == nil {
		t.Error("a file was written through a link")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "up")); err == nil {
		t.Error("a file was written outside the directory")
	}
}

// cacheFake is a fake engine that keeps caches in memory.
type cacheFake struct {
	*fakeEngine
	stored map[string][]byte // by key
}

func (c *cacheFake) RestoreCache(_ context.Context, s *engine.Spec, ref engine.CacheRef) (io.ReadCloser, error) {
	c.record("restore %s %s", s.Key, ref.Key)
	data, ok := c.stored[ref.Key]
	if !ok {
		return nil, engine.ErrCacheNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (c *cacheFake) SaveCache(_ context.Context, s *engine.Spec, ref engine.CacheRef, size int64, r io.Reader) error {
	c.record("save %s %s %d", s.Key, ref.Key, size)
	data, err := io.ReadAll(r)
	c.stored[ref.Key] = data
	return err
}

func (c *cacheFake) ListCaches(context.Context) ([]engine.CacheInfo, error) { return nil, nil }
func (c *cacheFake) RemoveCache(context.Context, string) error              { return nil }

// TestCachePolicies: pull restores only, push saves only, when: decides
// after what a cache is saved, fallback keys are tried in order, and the
// restored cache goes into the workspace before the artifacts.
func TestCachePolicies(t *testing.T) {
	f := &cacheFake{fakeEngine: newFake(), stored: map[string][]byte{}}
	f.files = map[string]string{"deps/a": "AAA", "other": "x"}
	f.exit["exit 3"] = 3
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "deps/a", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("OLD"))
	tw.Close()
	f.stored["fb"] = tarball.Bytes()
	r, out := newTestRunner(f.fakeEngine)
	r.Engine = f
	r.Workspace = t.TempDir()
	cache := func(key string, pol pipeline.CachePolicy, when pipeline.When, fallbacks ...string) []*pipeline.Cache {
		return []*pipeline.Cache{{Key: key, Paths: []string{"deps/"}, Policy: pol, When: when, FallbackKeys: fallbacks}}
	}
	pull, push, onFail, fb := gitlabJob("pull", "true"), gitlabJob("push", "true"), gitlabJob("onfail", "true"), gitlabJob("fb", "exit 3")
	pull.Caches = cache("k", pipeline.Pull, pipeline.OnSuccess)
	push.Caches = cache("k", pipeline.Push, pipeline.OnSuccess)
	onFail.Caches = cache("k2", pipeline.PullPush, pipeline.OnFailure)
	fb.Caches = cache("none", pipeline.PullPush, pipeline.Always, "missing", "fb")
	fb.AllowFailure = true
	r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{pull, push, onFail, fb}}))
	want := []string{"restore j0-0 k", "save j0-1 k 3", "restore j0-2 k2", "restore j0-3 none", "restore j0-3 missing", "restore j0-3 fb", "save j0-3 none 3"}
	for _, w := range want {
		if !f.has(w) {
			t.Errorf("no %q in %v", w, f.calls)
		}
	}
	for _, not := range []string{"save j0-0 k 3", "restore j0-1 k", "save j0-2 k2 3"} {
		if f.has(not) {
			t.Errorf("%q in %v", not, f.calls)
		}
	}
	if !strings.Contains(out.String(), "Successfully extracted cache from fallback key fb") {
		t.Errorf("output:\n%s", out)
	}
	if in := f.inputs["j0-3"]; len(in) != 1 || !strings.Contains(in[0], "slipway-cache-") {
		t.Errorf("inputs of fb %v, want the restored cache", in)
	}
}

// TestCacheWithoutEngineSupport: an engine that keeps no caches runs the
// job without them, saying so once.
func TestCacheWithoutEngineSupport(t *testing.T) {
	f := newFake()
	r, out := newTestRunner(f)
	j := gitlabJob("j", "true")
	j.Target = pipeline.TargetKubernetes
	j.Caches = []*pipeline.Cache{{Key: "k", Paths: []string{"x"}}}
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Passed || strings.Count(out.String(), "keeps no caches") != 1 {
		t.Errorf("status %s, output:\n%s", res.Jobs[0].Status, out)
	}
}
