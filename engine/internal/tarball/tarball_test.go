package tarball

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestLinksLeavingTheTreeBecomeAbsolute(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"up":          "../sibling",     // leaves the tree
		"sub/twoup":   "../../other/x",  // leaves it from below
		"sub/inside":  "../up",          // stays inside
		"abs":         "/etc/hostname",  // absolute: as it is
		"sub/sibling": "../sub/../file", // stays inside
		"dotdot":      "..",             // the parent itself
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, dir, "/builds/g/p"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"up": "/builds/g/sibling", "sub/twoup": "/builds/g/other/x", "sub/inside": "../up",
		"abs": "/etc/hostname", "sub/sibling": "../sub/../file", "dotdot": "/builds/g",
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeSymlink {
			got[h.Name] = h.Linkname
		}
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s -> %q, want %q", name, got[name], w)
		}
	}
}
