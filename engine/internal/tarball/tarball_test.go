package tarball

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if err := Write(&buf, dir, "/builds/g/p", ""); err != nil {
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

// TestEntriesUnderADirectory: with under, the directories above come
// first and every entry is inside; a link out of the tree is resolved
// from dest, the checkout's place.
func TestEntriesUnderADirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	// slipway's own directory is left out.
	if err := os.MkdirAll(filepath.Join(dir, Own, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, dir, "/go/src/app", "src/app"); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name+" "+h.Linkname)
	}
	want := "src/ |src/app/ |src/app/lib /go/src/lib|src/app/main.go "
	if strings.Join(got, "|") != want {
		t.Errorf("entries %q, want %q", strings.Join(got, "|"), want)
	}
}

// The fingerprint changes with what the stream would carry (a file's
// size, time, mode, a new file, a link's target) and with nothing else:
// not slipway's own directory, not the top directory's time.
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644))
	must(os.Symlink("f", filepath.Join(dir, "l")))
	fp := func() string {
		t.Helper()
		var b bytes.Buffer
		must(Fingerprint(&b, dir))
		return b.String()
	}
	base := fp()
	must(os.MkdirAll(filepath.Join(dir, Own, "artifacts"), 0o755))
	if got := fp(); got != base {
		t.Errorf("slipway's own directory changed the fingerprint:\n%s\n%s", base, got)
	}
	old := time.Unix(1700000000, 0)
	changes := []struct {
		what string
		do   func()
	}{
		{"a file's time", func() { must(os.Chtimes(filepath.Join(dir, "f"), old, old)) }},
		{"a file's content and size", func() { must(os.WriteFile(filepath.Join(dir, "f"), []byte("three"), 0o644)) }},
		{"a file's mode", func() { must(os.Chmod(filepath.Join(dir, "f"), 0o755)) }},
		{"a new file", func() { must(os.WriteFile(filepath.Join(dir, "g"), nil, 0o644)) }},
		{"a link's target", func() {
			must(os.Remove(filepath.Join(dir, "l")))
			must(os.Symlink("g", filepath.Join(dir, "l")))
		}},
	}
	seen := map[string]string{base: "the start"}
	for _, c := range changes {
		c.do()
		got := fp()
		if prev, ok := seen[got]; ok {
			t.Errorf("after %s the fingerprint is that of %s", c.what, prev)
		}
		seen[got] = c.what
	}
}
