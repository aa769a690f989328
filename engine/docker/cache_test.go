package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

func tarOf(t *testing.T, files map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	return &buf
}

func readTar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

// TestCacheSaveRestore: a save replaces the cache before it; a restore
// takes the newest complete cache, never one whose save was cut short;
// the copying containers go at once; the volumes carry no run label.
func TestCacheSaveRestore(t *testing.T) {
	e := newEngine(t)
	s := newSpec(t, e, engine.NetworkNone)
	ctx := context.Background()
	ref := engine.CacheRef{Project: "/test/" + t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36), Key: "k"}
	t.Cleanup(func() {
		list, _ := e.cachesOf(ctx, ref)
		for _, c := range list {
			if err := e.RemoveCache(ctx, c.ID); err != nil {
				t.Error(err)
			}
		}
	})
	if _, err := e.RestoreCache(ctx, s, ref); !errors.Is(err, engine.ErrCacheNotFound) {
		t.Fatalf("restore before any save: %v, want ErrCacheNotFound", err)
	}
	if err := e.SaveCache(ctx, s, ref, 3, tarOf(t, map[string]string{"deps/a": "one"})); err != nil {
		t.Fatal(err)
	}
	if err := e.SaveCache(ctx, s, ref, 3, tarOf(t, map[string]string{"deps/b": "two"})); err != nil {
		t.Fatal(err)
	}
	// A newer cache whose save was cut short: no completion marker.
	if _, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: cacheVolume(ref, time.Now()), Labels: map[string]string{
		engine.LabelCache: "1", engine.LabelCacheProject: ref.Project, engine.LabelCacheKey: ref.Key,
		engine.LabelCacheSaved: time.Now().Add(time.Hour).Format(time.RFC3339Nano),
	}}); err != nil {
		t.Fatal(err)
	}
	list, err := e.cachesOf(ctx, ref)
	if err != nil || len(list) != 2 {
		t.Fatalf("caches %v %v, want the saved one and the cut one", list, err)
	}
	rc, err := e.RestoreCache(ctx, s, ref)
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, rc)
	rc.Close()
	if len(got) != 1 || got["deps/b"] != "two" {
		t.Errorf("restored %v, want deps/b only", got)
	}
	ctrs, _ := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", engine.LabelRun+"="+s.RunID)})
	if len(ctrs.Items) != 0 {
		t.Errorf("%d copying containers left after the restore", len(ctrs.Items))
	}
	for _, c := range list {
		v, err := e.cli.VolumeInspect(ctx, c.ID, client.VolumeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.Volume.Labels[engine.LabelRun]; ok {
			t.Errorf("cache volume %s carries %s", c.ID, engine.LabelRun)
		}
	}
}
