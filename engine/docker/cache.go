package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// A cache is a volume labelled engine.LabelCache, never engine.LabelRun:
// it outlives runs. Each save makes a new volume and then removes the
// older ones of the same project and key, so a restore never sees a
// cache half-written or half-replaced; a volume is complete once it
// holds cacheDone, written last.

var _ engine.Caches = (*Engine)(nil)

const (
	cacheMount = "/slipway-cache"
	cacheDone  = ".slipway-cache-complete"
)

// RestoreCache streams the newest complete cache of ref.
func (e *Engine) RestoreCache(ctx context.Context, s *engine.Spec, ref engine.CacheRef) (io.ReadCloser, error) {
	caches, err := e.cachesOf(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := e.ensurePause(ctx); err != nil {
		return nil, err
	}
	for _, c := range caches {
		ctr, err := e.cacheContainer(ctx, s, c.ID, true)
		if err != nil {
			return nil, err
		}
		done := func() { e.removeExport(context.WithoutCancel(ctx), ctr) }
		if _, err := e.cli.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: cacheMount + "/" + cacheDone}); err != nil {
			done() // incomplete (a save cut short) or being removed
			continue
		}
		res, err := e.cli.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: cacheMount})
		if err != nil {
			done()
			return nil, fmt.Errorf("copy cache %s out: %w", c.ID, err)
		}
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(relative(withoutMarker(res.Content), pw))
			_ = res.Content.Close()
		}()
		return &exportStream{PipeReader: pr, done: done}, nil
	}
	return nil, fmt.Errorf("%s: %w", ref.Key, engine.ErrCacheNotFound)
}

// SaveCache stores content as the newest cache of ref.
func (e *Engine) SaveCache(ctx context.Context, s *engine.Spec, ref engine.CacheRef, size int64, content io.Reader) error {
	if err := e.ensurePause(ctx); err != nil {
		return err
	}
	older, err := e.cachesOf(ctx, ref)
	if err != nil {
		return err
	}
	api := context.WithoutCancel(ctx)
	now := time.Now().UTC()
	vol := cacheVolume(ref, now)
	if _, err := e.cli.VolumeCreate(api, client.VolumeCreateOptions{Name: vol, Labels: map[string]string{
		engine.LabelCache: "1", engine.LabelCacheProject: ref.Project, engine.LabelCacheKey: ref.Key,
		engine.LabelCacheSize: strconv.FormatInt(size, 10), engine.LabelCacheSaved: now.Format(time.RFC3339Nano),
	}}); err != nil {
		return fmt.Errorf("create cache volume: %w", err)
	}
	if err := e.fillCache(ctx, s, vol, content); err != nil {
		_ = e.removeVolume(api, vol)
		return err
	}
	for _, c := range older {
		// One still mounted by a restore elsewhere stays until the next
		// save; restores take the newest anyway.
		_ = e.RemoveCache(api, c.ID)
	}
	return nil
}

// fillCache copies content, then the completion marker, into vol.
func (e *Engine) fillCache(ctx context.Context, s *engine.Spec, vol string, content io.Reader) error {
	ctr, err := e.cacheContainer(ctx, s, vol, false)
	if err != nil {
		return err
	}
	defer e.removeExport(context.WithoutCancel(ctx), ctr)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(withMarker(content, pw)) }()
	_, err = e.cli.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: cacheMount, Content: pr})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("copy cache in: %w", err)
	}
	return nil
}

// cacheContainer makes a container (never started) that mounts the cache
// volume vol, to copy through. It is the job's: Destroy removes it if
// the caller cannot.
func (e *Engine) cacheContainer(ctx context.Context, s *engine.Spec, vol string, ro bool) (string, error) {
	ctr := name(s, strings.TrimPrefix(vol, "slipway-"))
	if _, err := e.cli.ContainerCreate(context.WithoutCancel(ctx), client.ContainerCreateOptions{
		Name:   ctr,
		Config: &container.Config{Image: pauseRef, Labels: labels(s, "cache")},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{
			Type: mount.TypeVolume, Source: vol, Target: cacheMount, ReadOnly: ro,
		}}},
	}); err != nil {
		return "", fmt.Errorf("create cache container: %w", err)
	}
	return ctr, nil
}

// cacheVolume names a new cache volume: the ref's hash, then the time.
func cacheVolume(ref engine.CacheRef, t time.Time) string {
	h := sha256.Sum256([]byte(ref.Project + "\x00" + ref.Key))
	return "slipway-cache-" + hex.EncodeToString(h[:8]) + "-" + strconv.FormatInt(t.UnixNano(), 36)
}

// cachesOf lists ref's caches, newest first.
func (e *Engine) cachesOf(ctx context.Context, ref engine.CacheRef) ([]engine.CacheInfo, error) {
	all, err := e.ListCaches(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.CacheInfo
	for _, c := range all {
		if c.CacheRef == ref {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Saved.After(out[j].Saved) })
	return out, nil
}

// ListCaches lists every cache volume.
func (e *Engine) ListCaches(ctx context.Context) ([]engine.CacheInfo, error) {
	vols, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelCache)})
	if err != nil {
		return nil, fmt.Errorf("list cache volumes: %w", err)
	}
	out := make([]engine.CacheInfo, 0, len(vols.Items))
	for _, v := range vols.Items {
		l := v.Labels
		size, _ := strconv.ParseInt(l[engine.LabelCacheSize], 10, 64)
		saved, err := time.Parse(time.RFC3339Nano, l[engine.LabelCacheSaved])
		if err != nil {
			saved, _ = time.Parse(time.RFC3339, v.CreatedAt)
		}
		out = append(out, engine.CacheInfo{
			CacheRef: engine.CacheRef{Project: l[engine.LabelCacheProject], Key: l[engine.LabelCacheKey]},
			ID:       v.Name, Size: size, Saved: saved,
		})
	}
	return out, nil
}

// RemoveCache removes a cache volume, and a template's data with its
// pointer; one already gone is not an error.
func (e *Engine) RemoveCache(ctx context.Context, id string) error {
	res, err := e.cli.VolumeInspect(ctx, id, client.VolumeInspectOptions{})
	if err != nil {
		if gone(err) {
			return nil
		}
		return fmt.Errorf("remove cache %s: %w", id, err)
	}
	if err := e.templateInUse(ctx, res.Volume.Labels); err != nil {
		return err
	}
	if _, err := e.cli.VolumeRemove(ctx, id, client.VolumeRemoveOptions{}); err != nil && !gone(err) {
		return fmt.Errorf("remove cache %s: %w", id, err)
	}
	return e.removeTemplateData(ctx, res.Volume.Labels)
}

// withMarker copies the tar r to w and adds the completion marker last.
func withMarker(r io.Reader, w io.Writer) error {
	tw := tar.NewWriter(w)
	if err := copyEntries(tar.NewReader(r), tw, nil); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: cacheDone, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	return tw.Close()
}

// withoutMarker is the engine's tar of the cache directory without the
// completion marker.
func withoutMarker(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := copyEntries(tar.NewReader(r), tw, func(h *tar.Header) bool {
			return strings.HasSuffix(h.Name, "/"+cacheDone)
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// copyEntries copies every entry of tr that skip (when set) does not
// reject to tw, up to the end of tr.
func copyEntries(tr *tar.Reader, tw *tar.Writer, skip func(*tar.Header) bool) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if skip != nil && skip(h) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
