package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// writes go to an upper volume of its own, removed with the job. A new
// template is filled while the first job's container is created, and
// waited for only before that container starts. Ten jobs
// of a pipeline copy their checkout once, not ten times; a tree run again
// unchanged is not copied at all.
//
// The volumes (only a job's overlay, upper and work carry run labels):
//
//	slipway-wstpl-<key>       the pointer: its labels name the data volume
//	                          and where the engine mounted it. Made after
//	                          the data is whole, so only whole templates
//	                          are used; when two processes fill the same
//	                          key, the first pointer made wins; the
//	                          other's data serves its own jobs, then is
//	                          removed as an orphan.
//	slipway-wstpl-<key>-<t>   the data.
//	slipway-overlay-support   made once: whether the engine can mount an
//	                          overlay of its volumes (a rootless one
//	                          cannot); when it cannot, jobs are copied.
//
// A pointer is a cache (engine.LabelCache, project TemplateProject):
// `slipway cache ls` lists it, `slipway cache rm` removes it with its
// data. Publishing a template removes the oldest beyond keepTemplates
// (or keepTemplateBytes) that no job's overlay reads.
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

// keepTemplateBytes bounds the disk the kept templates take (the sizes
// of their streams); a variable for the tests.
var keepTemplateBytes int64 = 4 << 30

// template is a template's data volume and where it is mounted on the
// engine's host (an overlay's lower directory).
type template struct{ data, dir string }

// templateFill is one key's template in this process: found whole, or
// being filled for the first job that needed it. The jobs of the key
// know where it will be as soon as its volume exists; each waits for
// the fill only before its first container starts, so the fill runs
// beside the creation of that container.
type templateFill struct {
	once sync.Once
	key  string
	t    *template // nil: the engine cannot mount overlays
	err  error     // the lookup failed
	// published: its pointer was found or made, so another process may
	// evict it; until then the data is this process's alone.
	published atomic.Bool
	// filled is closed once the data is whole or the fill failed
	// (fillErr).
	filled  chan struct{}
	fillErr error
}

// wait waits until the template's data is whole.
func (f *templateFill) wait(ctx context.Context) error {
	select {
	case <-f.filled:
		return f.fillErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// overlay is a job's workspace volume as an overlay of a template.
type overlay struct {
	volume     string
	fill       *templateFill
	upper, wrk string // directories on the engine's host
}

// useTemplate makes the job's workspace an overlay of its checkout's
// template when templates are on and the engine can mount one; false
// means the checkout is copied as before.
func (e *Engine) useTemplate(ctx context.Context, s *engine.Spec) (bool, error) {
	if !e.Templates || emptyCheckout(s) {
		return false, nil
	}
	for range maxTemplateTries {
		f, err := e.template(ctx, s)
		if err != nil || f.t == nil {
			return false, err
		}
		ov, err := e.overlayVolumes(ctx, s, name(s, "ws"), f)
		if err != nil {
			return false, err
		}
		if !f.published.Load() || e.stillPublished(ctx, f) {
			e.overlays.Store(name(s, ""), ov)
			return true, nil
		}
		// Evicted between the lookup and the job's mark on it: forget
		// it and look again (a new fill).
		e.forgetTemplate(f)
		e.dropOverlayVolumes(ctx, ov)
	}
	return false, nil // evicted as often as found: the job gets a copy
}

// maxTemplateTries bounds the lookups of a job's template that another
// process evicts under its feet.
const maxTemplateTries = 3

// stillPublished is true when f's pointer still exists, once the job has
// marked f's data as read: an eviction then leaves the data alone.
func (e *Engine) stillPublished(ctx context.Context, f *templateFill) bool {
	_, err := e.cli.VolumeInspect(ctx, pointerName(f.key), client.VolumeInspectOptions{})
	return err == nil
}

// dropOverlayVolumes removes an overlay's upper and work volumes.
func (e *Engine) dropOverlayVolumes(ctx context.Context, ov overlay) {
	for _, v := range []string{ov.volume + "-upper", ov.volume + "-work"} {
		_ = e.removeVolume(ctx, v)
	}
}

// overlayOf is the job's overlay, when its checkout comes from a template.
func (e *Engine) overlayOf(s *engine.Spec) (overlay, bool) {
	ov, ok := e.overlays.Load(name(s, ""))
	if !ok {
		return overlay{}, false
	}
	return ov.(overlay), true
}

// template finds the template of the job's checkout, or starts filling it.
func (e *Engine) template(ctx context.Context, s *engine.Spec) (*templateFill, error) {
	key, err := templateKey(s)
	if err != nil {
		return nil, fmt.Errorf("read workspace %s: %w", s.WorkspaceDir, err)
	}
	f := e.templateFill(key)
	// The jobs that wait here share the result: it must not be cut short
	// by the first one's cancellation.
	f.once.Do(func() { e.findOrFill(context.WithoutCancel(ctx), s, key, f) })
	return f, f.err
}

// templateFill is key's entry, new or known. The entries are forgotten
// once there are maxKnownTemplates (a runner sees a checkout per
// commit): a later job of a forgotten key looks its template up again.
func (e *Engine) templateFill(key string) *templateFill {
	e.templatesMu.Lock()
	defer e.templatesMu.Unlock()
	if f, ok := e.templates[key]; ok {
		return f
	}
	if e.templates == nil || len(e.templates) >= maxKnownTemplates {
		e.templates = map[string]*templateFill{}
	}
	f := &templateFill{key: key, filled: make(chan struct{})}
	e.templates[key] = f
	return f
}

// forgetTemplate drops f, so that the next job of its key looks again.
func (e *Engine) forgetTemplate(f *templateFill) {
	e.templatesMu.Lock()
	defer e.templatesMu.Unlock()
	if e.templates[f.key] == f {
		delete(e.templates, f.key)
	}
}

const maxKnownTemplates = 256

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

// findOrFill sets f.t to the published template of key, or to a new data
// volume that it fills in the background. A first fill on an engine
// also finds out whether the engine mounts overlays: that one is waited
// for, and leaves f.t nil when the answer is no.
func (e *Engine) findOrFill(ctx context.Context, s *engine.Spec, key string, f *templateFill) {
	res, err := e.cli.VolumeInspect(ctx, pointerName(key), client.VolumeInspectOptions{})
	if err == nil {
		f.t = templateOf(res.Volume.Labels)
		f.published.Store(true)
		close(f.filled)
		return
	}
	probe, supported, serr := e.overlaySupport(ctx)
	switch {
	case !errdefs.IsNotFound(err):
		f.err = fmt.Errorf("look for the workspace's template: %w", err)
	case serr != nil:
		f.err = serr
	case supported || probe:
		f.err = e.ensurePause(ctx)
	}
	if f.err != nil || !supported && !probe {
		close(f.filled)
		return
	}
	if f.t, f.err = e.templateVolume(ctx, key); f.err != nil {
		close(f.filled)
		return
	}
	if !probe {
		e.bg.Go(func() { e.fillTemplate(ctx, s, key, f, false) })
		return
	}
	if !e.fillTemplate(ctx, s, key, f, true) {
		f.t = nil
	}
}

func templateOf(l map[string]string) *template {
	return &template{data: l[labelTemplateData], dir: l[labelTemplateMount]}
}

// templateVolume creates the data volume of a new template of key.
func (e *Engine) templateVolume(ctx context.Context, key string) (*template, error) {
	now := time.Now().UTC()
	data := pointerName(key) + "-" + strconv.FormatInt(now.UnixNano(), 36)
	res, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: data, Labels: map[string]string{
		labelTemplateOf: key, engine.LabelCacheSaved: now.Format(time.RFC3339Nano),
	}})
	if err != nil {
		return nil, fmt.Errorf("create workspace template: %w", err)
	}
	return &template{data: data, dir: res.Volume.Mountpoint}, nil
}

// fillTemplate copies the checkout into f's data volume, through a
// container of the job that is never started (Destroy removes it), then
// closes f.filled and publishes the template. With probe, it first
// mounts an overlay on the same container to learn whether the engine
// can: false when it cannot (nothing is filled then).
func (e *Engine) fillTemplate(ctx context.Context, s *engine.Spec, key string, f *templateFill, probe bool) bool {
	t := *f.t
	ctr := name(s, "template")
	mounts := []mount.Mount{{Type: mount.TypeVolume, Source: t.data, Target: s.WorkspacePath}}
	if probe {
		ov, err := e.overlayVolumes(ctx, s, name(s, "probe"), f)
		if err != nil {
			return e.fillFailed(ctx, f, "", err)
		}
		mounts = append(mounts, ov.mount(probeTarget, labels(s, "probe")))
	}
	if _, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       ctr,
		Config:     &container.Config{Image: pauseRef, Labels: labels(s, "template")},
		HostConfig: &container.HostConfig{Mounts: mounts},
	}); err != nil {
		return e.fillFailed(ctx, f, "", fmt.Errorf("create template container: %w", err))
	}
	if probe && !e.probeOverlay(ctx, ctr) {
		return e.fillFailed(ctx, f, ctr, nil)
	}
	size, err := e.copyDir(ctx, ctr, s, s.WorkspaceDir, s.WorkspaceSub)
	if err != nil {
		err = fmt.Errorf("copy workspace %s into its template: %w", s.WorkspaceDir, err)
		return e.fillFailed(ctx, f, ctr, err)
	}
	close(f.filled)
	if e.publish(ctx, s, key, t, size) {
		f.published.Store(true)
	}
	return true
}

// fillFailed ends a fill that did not complete: the data volume is
// removed (after ctr, which holds it) and the waiting jobs get err.
func (e *Engine) fillFailed(ctx context.Context, f *templateFill, ctr string, err error) bool {
	e.dropTemplate(ctx, ctr, f.t.data)
	f.fillErr = err
	close(f.filled)
	return false
}

// publish makes the pointer of t and reports whether it is t's: when
// another process published the key first, t stays unpublished (the
// jobs of this run read it; it is removed as an orphan later). Then
// older templates are evicted, in the background.
func (e *Engine) publish(ctx context.Context, s *engine.Spec, key string, t template, size int64) bool {
	res, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: pointerName(key), Labels: map[string]string{
		engine.LabelCache: "1", engine.LabelCacheProject: TemplateProject, engine.LabelCacheKey: s.WorkspaceDir,
		engine.LabelCacheSize: strconv.FormatInt(size, 10), engine.LabelCacheSaved: time.Now().UTC().Format(time.RFC3339Nano),
		labelTemplateData: t.data, labelTemplateMount: t.dir,
	}})
	if err != nil {
		return false
	}
	e.bg.Go(func() { e.evictTemplates(ctx) })
	return templateOf(res.Volume.Labels).data == t.data
}

// dropTemplate removes an unpublished data volume, and first the
// container that holds it, when there is one.
func (e *Engine) dropTemplate(ctx context.Context, ctr, data string) {
	if ctr != "" {
		_, _ = e.cli.ContainerRemove(ctx, ctr, client.ContainerRemoveOptions{Force: true})
	}
	_ = e.removeVolume(ctx, data)
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
// f's template named vol (the engine makes vol itself, for the first
// container that mounts it: see overlay.mount).
func (e *Engine) overlayVolumes(ctx context.Context, s *engine.Spec, vol string, f *templateFill) (overlay, error) {
	ov := overlay{volume: vol, fill: f}
	var upErr, wrkErr error
	var wg sync.WaitGroup
	mk := func(n string, dir *string, err *error) {
		// The reference to the template keeps eviction off it from now.
		lbl := labels(s, "workspace")
		lbl[labelLower] = f.t.data
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
// container that mounts it. NoCopy: the engine would otherwise mount it
// at the container's creation, while the template may still be filling,
// to copy in what the image has at target (and that would then hide the
// checkout's files of the same names).
func (o overlay) mount(target string, lbl map[string]string) mount.Mount {
	lbl[labelLower] = o.fill.t.data
	return mount.Mount{
		Type: mount.TypeVolume, Source: o.volume, Target: target,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: lbl, DriverConfig: &mount.Driver{
			Name: "local",
			Options: map[string]string{
				"type": "overlay", "device": "overlay",
				"o": "lowerdir=" + o.fill.t.dir + ",upperdir=" + o.upper + ",workdir=" + o.wrk,
			},
		}},
	}
}

// evictTemplates removes the templates beyond the newest keepTemplates,
// or beyond keepTemplateBytes (the newest is always kept), that no job's
// overlay reads, and data volumes that no pointer names,
// no job reads and that are over an hour old (a fill cut short, or one
// that lost the race to publish). Best effort: what is in use stays
// until the next time.
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
	var bytes int64
	for i, p := range items {
		data := p.Labels[labelTemplateData]
		named[data] = true
		size, _ := strconv.ParseInt(p.Labels[engine.LabelCacheSize], 10, 64)
		bytes += size
		if i > 0 && (i >= keepTemplates || bytes > keepTemplateBytes) && !inUse[data] && e.RemoveCache(ctx, p.Name) == nil {
			bytes -= size
		}
	}
	e.removeOrphanData(ctx, named, inUse)
}

func (e *Engine) removeOrphanData(ctx context.Context, named, inUse map[string]bool) {
	all, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelTemplateOf)})
	if err != nil {
		return
	}
	for _, v := range all.Items {
		saved, err := time.Parse(time.RFC3339Nano, v.Labels[engine.LabelCacheSaved])
		if !named[v.Name] && !inUse[v.Name] && err == nil && time.Since(saved) > time.Hour {
			_, _ = e.cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
		}
	}
}

// RemoveTemplatesUnder removes the templates of the checkouts below dir
// (a temporary directory of tests or benchmarks, gone with them) that no
// job reads, and says how many it removed.
func (e *Engine) RemoveTemplatesUnder(ctx context.Context, dir string) (int, error) {
	caches, err := e.ListCaches(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, c := range caches {
		if c.Project != TemplateProject || !strings.HasPrefix(c.Key, dir+string(filepath.Separator)) {
			continue
		}
		if err := e.RemoveCache(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
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
// pointer itself is gone (see RemoveCache), unless a job has begun to
// read it meanwhile: a job checks that the pointer still exists after it
// has marked the data as read (see useTemplate), so of the two, one sees
// the other. Data left so is removed with the orphans, later.
func (e *Engine) removeTemplateData(ctx context.Context, labels map[string]string) error {
	data := labels[labelTemplateData]
	if data == "" || e.templateInUse(ctx, labels) != nil {
		return nil
	}
	if _, err := e.cli.VolumeRemove(ctx, data, client.VolumeRemoveOptions{}); err != nil && !gone(err) {
		return fmt.Errorf("remove template %s: %w", data, err)
	}
	return nil
}
