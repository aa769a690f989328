package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/internal/tarball"
)

// Workspace templates (Engine.Templates, on for exec).
//
// Copying a checkout into a job's volume is an archive upload: the
// engine mounts the container and re-executes itself to unpack, 40–75 ms
// for a single small file here, the largest cost slipway adds to a short
// job. With templates, a checkout is copied once into a template volume
// that outlives the run, and every job whose checkout is the same (same
// paths, sizes, modes and times: tarball.Fingerprint) mounts an overlay
// of it instead: the template is the read-only lower layer, the job's
// writes go to an upper volume of its own, removed with the job. Ten jobs
// of a pipeline copy their checkout once, not ten times; a tree run again
// unchanged is not copied at all.
//
// The volumes (only a job's overlay, upper and work carry run labels):
//
//	slipway-wstpl-<key>       the pointer: its labels name the data volume
//	                          and where the engine mounted it. Made after
//	                          the data is whole, so only whole templates
//	                          are used; when two processes fill the same
//	                          key, the first pointer made wins and the
//	                          other removes its data.
//	slipway-wstpl-<key>-<t>   the data.
//	slipway-overlay-support   made once: whether the engine can mount an
//	                          overlay of its volumes (a rootless one
//	                          cannot); when it cannot, jobs are copied.
//
// A pointer is a cache (engine.LabelCache, project TemplateProject):
// `slipway cache ls` lists it, `slipway cache rm` removes it with its
// data. Publishing a template removes the oldest beyond keepTemplates
// that no job's overlay reads.
const (
	labelTemplateData  = "slipway.template.data"  // pointer: its data volume
	labelTemplateMount = "slipway.template.mount" // pointer: the data's path on the engine's host
	labelTemplateOf    = "slipway.template.of"    // data: its key
	labelLower         = "slipway.template.lower" // a job's overlay: the data volume it reads
	labelOverlay       = "slipway.overlay"        // the support marker: "yes" or "no"
	overlaySupport     = "slipway-overlay-support"
	// TemplateProject is the project templates are listed under as caches.
	TemplateProject = "(workspace)"
	keepTemplates   = 8
	probeTarget     = "/.slipway-overlay-probe"
)

// template is a whole template: its data volume and where it is mounted
// on the engine's host (an overlay's lower directory).
type template struct{ data, dir string }

// templateFill is one key's template, found or filled once per process.
type templateFill struct {
	once sync.Once
	t    *template
	err  error
}

// overlay is a job's workspace volume as an overlay of a template.
type overlay struct {
	volume     string
	lower      template
	upper, wrk string // directories on the engine's host
}

// useTemplate makes the job's workspace an overlay of its checkout's
// template when templates are on and the engine can mount one; false
// means the checkout is copied as before.
func (e *Engine) useTemplate(ctx context.Context, s *engine.Spec) (bool, error) {
	if !e.Templates || emptyCheckout(s) {
		return false, nil
	}
	t, err := e.template(ctx, s)
	if err != nil || t == nil {
		return false, err
	}
	ov, err := e.overlayVolumes(ctx, s, name(s, "ws"), *t)
	if err != nil {
		return false, err
	}
	e.overlays.Store(name(s, ""), ov)
	return true, nil
}

// templated is true when the job's checkout comes from a template.
func (e *Engine) templated(s *engine.Spec) bool {
	_, ok := e.overlays.Load(name(s, ""))
	return ok
}

// template finds or fills the template of the job's checkout; nil when
// the engine cannot mount overlays.
func (e *Engine) template(ctx context.Context, s *engine.Spec) (*template, error) {
	key, err := templateKey(s)
	if err != nil {
		return nil, fmt.Errorf("read workspace %s: %w", s.WorkspaceDir, err)
	}
	v, _ := e.templates.LoadOrStore(key, &templateFill{})
	f := v.(*templateFill)
	// The jobs that wait here share the result: it must not be cut short
	// by the first one's cancellation.
	f.once.Do(func() { f.t, f.err = e.findOrFill(context.WithoutCancel(ctx), s, key) })
	return f.t, f.err
}

// templateKey names the checkout as a job would receive it: where it is
// unpacked, and the fingerprint of its tree.
func templateKey(s *engine.Spec) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "slipway workspace template 1\n%q %q\n", s.WorkspacePath, s.WorkspaceSub)
	if err := tarball.Fingerprint(h, s.WorkspaceDir); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

func pointerName(key string) string { return "slipway-wstpl-" + key }

func (e *Engine) findOrFill(ctx context.Context, s *engine.Spec, key string) (*template, error) {
	res, err := e.cli.VolumeInspect(ctx, pointerName(key), client.VolumeInspectOptions{})
	if err == nil {
		return templateOf(res.Volume.Labels), nil
	}
	if !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("look for the workspace's template: %w", err)
	}
	return e.fillTemplate(ctx, s, key)
}

func templateOf(l map[string]string) *template {
	return &template{data: l[labelTemplateData], dir: l[labelTemplateMount]}
}

// fillTemplate copies the checkout into a new data volume, through a
// container of the job that is never started (Destroy removes it), and
// publishes it. The first fill on an engine also finds out whether it
// mounts overlays, with one mounted on the same container.
func (e *Engine) fillTemplate(ctx context.Context, s *engine.Spec, key string) (*template, error) {
	probe, supported, err := e.overlaySupport(ctx)
	if err != nil || !supported && !probe {
		return nil, err
	}
	if err := e.ensurePause(ctx); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	data := pointerName(key) + "-" + strconv.FormatInt(now.UnixNano(), 36)
	res, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: data, Labels: map[string]string{
		labelTemplateOf: key, engine.LabelCacheSaved: now.Format(time.RFC3339Nano),
	}})
	if err != nil {
		return nil, fmt.Errorf("create workspace template: %w", err)
	}
	t := template{data: data, dir: res.Volume.Mountpoint}
	ctr := name(s, "template")
	mounts := []mount.Mount{{Type: mount.TypeVolume, Source: data, Target: s.WorkspacePath}}
	if probe {
		ov, err := e.overlayVolumes(ctx, s, name(s, "probe"), t)
		if err != nil {
			return nil, e.dropTemplate(ctx, "", data, err)
		}
		mounts = append(mounts, ov.mount(probeTarget, labels(s, "probe")))
	}
	if _, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       ctr,
		Config:     &container.Config{Image: pauseRef, Labels: labels(s, "template")},
		HostConfig: &container.HostConfig{Mounts: mounts},
	}); err != nil {
		return nil, e.dropTemplate(ctx, "", data, fmt.Errorf("create template container: %w", err))
	}
	if probe && !e.probeOverlay(ctx, ctr) {
		return nil, e.dropTemplate(ctx, ctr, data, nil)
	}
	size, err := e.copyDir(ctx, ctr, s, s.WorkspaceDir, s.WorkspaceSub)
	if err != nil {
		err = fmt.Errorf("copy workspace %s into its template: %w", s.WorkspaceDir, err)
		return nil, e.dropTemplate(ctx, ctr, data, err)
	}
	return e.publish(ctx, s, key, t, size, ctr)
}

// publish makes the pointer of t, or finds the one another process made
// first and drops t. Then older templates are evicted.
func (e *Engine) publish(ctx context.Context, s *engine.Spec, key string, t template, size int64, ctr string) (*template, error) {
	res, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: pointerName(key), Labels: map[string]string{
		engine.LabelCache: "1", engine.LabelCacheProject: TemplateProject, engine.LabelCacheKey: s.WorkspaceDir,
		engine.LabelCacheSize: strconv.FormatInt(size, 10), engine.LabelCacheSaved: time.Now().UTC().Format(time.RFC3339Nano),
		labelTemplateData: t.data, labelTemplateMount: t.dir,
	}})
	if err != nil {
		return nil, e.dropTemplate(ctx, ctr, t.data, fmt.Errorf("publish workspace template: %w", err))
	}
	won := templateOf(res.Volume.Labels)
	if won.data != t.data {
		_ = e.dropTemplate(ctx, ctr, t.data, nil)
	}
	e.evictTemplates(ctx)
	return won, nil
}

// dropTemplate removes an unpublished data volume (and the container
// that holds it, when there is one) and returns err.
func (e *Engine) dropTemplate(ctx context.Context, ctr, data string, err error) error {
	if ctr != "" {
		_, _ = e.cli.ContainerRemove(ctx, ctr, client.ContainerRemoveOptions{Force: true})
	}
	_ = e.removeVolume(ctx, data)
	return err
}

// overlaySupport says whether the engine is known to mount overlays of
// its volumes, or must be probed (probe true).
func (e *Engine) overlaySupport(ctx context.Context) (probe, supported bool, err error) {
	res, err := e.cli.VolumeInspect(ctx, e.supportVolume, client.VolumeInspectOptions{})
	if errdefs.IsNotFound(err) {
		return true, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("look for %s: %w", e.supportVolume, err)
	}
	return false, res.Volume.Labels[labelOverlay] == "yes", nil
}

// probeOverlay asks the engine to mount the template container's volumes,
// the probe overlay among them (a stat does, without starting it), and
// records the answer. Only a failed mount is recorded as "no": any other
// error leaves the question open for the next run.
func (e *Engine) probeOverlay(ctx context.Context, ctr string) bool {
	_, err := e.cli.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: probeTarget})
	answer := "yes"
	if err != nil {
		if !strings.Contains(err.Error(), "mount") {
			return false
		}
		answer = "no"
	}
	_, _ = e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: e.supportVolume, Labels: map[string]string{labelOverlay: answer}})
	return err == nil
}

// overlayVolumes makes the job's upper and work volumes of an overlay of
// t named vol (the engine makes vol itself, for the first container that
// mounts it: see overlay.mount).
func (e *Engine) overlayVolumes(ctx context.Context, s *engine.Spec, vol string, t template) (overlay, error) {
	ov := overlay{volume: vol, lower: t}
	var upErr, wrkErr error
	var wg sync.WaitGroup
	mk := func(n string, dir *string, err *error) {
		// The reference to the template keeps eviction off it from now.
		lbl := labels(s, "workspace")
		lbl[labelLower] = t.data
		res, e2 := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: n, Labels: lbl})
		*dir, *err = res.Volume.Mountpoint, e2
	}
	wg.Go(func() { mk(vol+"-upper", &ov.upper, &upErr) })
	wg.Go(func() { mk(vol+"-work", &ov.wrk, &wrkErr) })
	wg.Wait()
	if err := errors.Join(upErr, wrkErr); err != nil {
		return overlay{}, fmt.Errorf("create the workspace's overlay: %w", err)
	}
	return ov, nil
}

// mount mounts the overlay at target; the engine creates the volume, with
// these labels and the reference to its template, for the first
// container that mounts it.
func (o overlay) mount(target string, lbl map[string]string) mount.Mount {
	lbl[labelLower] = o.lower.data
	return mount.Mount{
		Type: mount.TypeVolume, Source: o.volume, Target: target,
		VolumeOptions: &mount.VolumeOptions{Labels: lbl, DriverConfig: &mount.Driver{
			Name: "local",
			Options: map[string]string{
				"type": "overlay", "device": "overlay",
				"o": "lowerdir=" + o.lower.dir + ",upperdir=" + o.upper + ",workdir=" + o.wrk,
			},
		}},
	}
}

// evictTemplates removes the templates beyond the newest keepTemplates
// that no job's overlay reads, and data volumes that no pointer names
// and that are over an hour old (a fill cut short). Best effort: what
// is in use stays until the next time.
func (e *Engine) evictTemplates(ctx context.Context) {
	ptrs, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelTemplateData)})
	if err != nil {
		return
	}
	reading, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelLower)})
	if err != nil {
		return
	}
	inUse := map[string]bool{}
	for _, v := range reading.Items {
		inUse[v.Labels[labelLower]] = true
	}
	items := ptrs.Items
	sort.Slice(items, func(i, j int) bool {
		return items[i].Labels[engine.LabelCacheSaved] > items[j].Labels[engine.LabelCacheSaved]
	})
	named := map[string]bool{}
	for i, p := range items {
		data := p.Labels[labelTemplateData]
		named[data] = true
		if i >= keepTemplates && !inUse[data] {
			_ = e.RemoveCache(ctx, p.Name)
		}
	}
	e.removeOrphanData(ctx, named)
}

func (e *Engine) removeOrphanData(ctx context.Context, named map[string]bool) {
	all, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelTemplateOf)})
	if err != nil {
		return
	}
	for _, v := range all.Items {
		saved, err := time.Parse(time.RFC3339Nano, v.Labels[engine.LabelCacheSaved])
		if !named[v.Name] && err == nil && time.Since(saved) > time.Hour {
			_, _ = e.cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
		}
	}
}

// templateInUse refuses to remove a template that a job's overlay reads:
// the engine does not know the overlay depends on it.
func (e *Engine) templateInUse(ctx context.Context, labels map[string]string) error {
	data := labels[labelTemplateData]
	if data == "" {
		return nil
	}
	res, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelLower+"="+data)})
	if err != nil {
		return fmt.Errorf("remove template %s: %w", data, err)
	}
	if len(res.Items) > 0 {
		return fmt.Errorf("remove template %s: in use by a running job (%s)", data, res.Items[0].Name)
	}
	return nil
}

// removeTemplateData removes the data volume a pointer names, after the
// pointer itself is gone (see RemoveCache).
func (e *Engine) removeTemplateData(ctx context.Context, labels map[string]string) error {
	data := labels[labelTemplateData]
	if data == "" {
		return nil
	}
	if _, err := e.cli.VolumeRemove(ctx, data, client.VolumeRemoveOptions{}); err != nil && !gone(err) {
		return fmt.Errorf("remove template %s: %w", data, err)
	}
	return nil
}
