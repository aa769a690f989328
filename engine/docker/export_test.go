package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slipway-ci/slipway/engine"
)

// TestInputsAndExport: inputs land in the workspace over the checkout,
// and Export gives the workspace's files as the steps left them, named
// relative to it.
func TestInputsAndExport(t *testing.T) {
	e := newEngine(t)
	s := newSpec(t, e, engine.NetworkNone)
	s.WorkspaceDir, s.Inputs = t.TempDir(), []string{t.TempDir()}
	write := func(path, content string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(s.WorkspaceDir, "a.txt"), "checkout\n", 0o644)
	write(filepath.Join(s.Inputs[0], "bin", "hello"), "#!/bin/sh\necho hello from the input\n", 0o755)
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{
		Name: "step-0", Image: busybox, WorkingDir: "/work",
		Cmd: []string{"sh", "-c", "cat a.txt && ./bin/hello && echo made > out.txt"},
	}, &out, &out)
	if err != nil || code != 0 || out.String() != "checkout\nhello from the input\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
	rc, err := e.Export(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"a.txt", "bin/", "bin/hello", "out.txt"}; !slices.Equal(names, want) || files["out.txt"] != "made\n" {
		t.Errorf("exported %v (out.txt %q), want %v", names, files["out.txt"], want)
	}
}
