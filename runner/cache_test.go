package runner

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
