package docker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/internal/tarball"
)

func TestEmptyWorkspace(t *testing.T) {
	empty, own, file, sub := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(own, tarball.Own, "artifacts"))
	mk(filepath.Join(sub, "d"))
	if err := os.WriteFile(filepath.Join(file, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    engine.Spec
		want bool
	}{
		{"no checkout", engine.Spec{}, true},
		{"empty directory", engine.Spec{WorkspaceDir: empty}, true},
		{"only slipway's own", engine.Spec{WorkspaceDir: own}, true},
		{"empty inputs", engine.Spec{WorkspaceDir: empty, Inputs: []string{own, empty}}, true},
		{"an empty file", engine.Spec{WorkspaceDir: file}, false},
		{"an empty directory inside", engine.Spec{WorkspaceDir: sub}, false},
		{"copied below the volume's top", engine.Spec{WorkspaceDir: empty, WorkspaceSub: "src/app"}, false},
		{"an input with a file", engine.Spec{WorkspaceDir: empty, Inputs: []string{file}}, false},
		{"unreadable", engine.Spec{WorkspaceDir: filepath.Join(empty, "missing")}, false},
	} {
		if got := emptyWorkspace(&c.s); got != c.want {
			t.Errorf("%s: emptyWorkspace = %v, want %v", c.name, got, c.want)
		}
	}
}

// An empty workspace is not copied (no archive upload), yet the job gets
// its labelled workspace volume, made by its first container.
func TestEmptyWorkspaceIsNotCopied(t *testing.T) {
	e := newEngine(t)
	s := newSpec(t, e, engine.NetworkNone)
	s.WorkspaceDir = t.TempDir()
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, pending := e.pending.Load(name(s, "")); pending {
		t.Error("an empty workspace is waiting to be copied")
	}
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: busybox, WorkingDir: "/work",
		Cmd: []string{"sh", "-c", "ls -A; touch made"}}, &out, &out)
	if err != nil || code != 0 || out.String() != "" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
	out.Reset()
	if _, err := e.Run(ctx, s, &engine.Container{Name: "step-1", Image: busybox, WorkingDir: "/work",
		Cmd: []string{"ls", "-A"}}, &out, &out); err != nil || out.String() != "made\n" {
		t.Errorf("second step saw %q, %v", out.String(), err)
	}
	res, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelJob+"="+jobLabel(s))})
	if err != nil || len(res.Items) != 1 || res.Items[0].Name != name(s, "ws") {
		t.Errorf("want the workspace volume with the job's labels, got %+v (%v)", res.Items, err)
	}
}
