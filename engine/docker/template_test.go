package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// templateEngine is an engine with templates on and its own record of
// overlay support, removed at the end with every template the test made.
func templateEngine(t *testing.T) *Engine {
	t.Helper()
	e := newEngine(t)
	e.Templates = true
	e.supportVolume = fmt.Sprintf("slipway-test-overlay-support-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = e.cli.VolumeRemove(ctx, e.supportVolume, client.VolumeRemoveOptions{})
		for _, p := range templatesOf(t, e, "") {
			if err := e.RemoveCache(ctx, p.Name); err != nil {
				t.Error(err)
			}
		}
	})
	return e
}

// templatesOf lists the template pointers of the test's workspaces
// (below its temp directories), or of dir alone.
func templatesOf(t *testing.T, e *Engine, dir string) []volumeItem {
	t.Helper()
	res, err := e.cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: client.Filters{}.Add("label", labelTemplateData)})
	if err != nil {
		t.Fatal(err)
	}
	var out []volumeItem
	for _, v := range res.Items {
		key := v.Labels[engine.LabelCacheKey]
		if dir == key || dir == "" && strings.Contains(key, strings.ReplaceAll(t.Name(), "/", "_")) {
			out = append(out, volumeItem{Name: v.Name, Labels: v.Labels})
		}
	}
	return out
}

type volumeItem struct {
	Name   string
	Labels map[string]string
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a shell script in a new step container of s and returns its
// output.
func runScript(t *testing.T, e *Engine, s *engine.Spec, step, script string) string {
	t.Helper()
	var out bytes.Buffer
	code, err := e.Run(context.Background(), s, &engine.Container{
		Name: step, Image: busybox, WorkingDir: s.WorkspacePath, Cmd: []string{"sh"}, Stdin: []byte(script),
	}, &out, &out)
	if err != nil || code != 0 {
		t.Fatalf("%s: code %d err %v out %q", step, code, err, out.String())
	}
	return out.String()
}

// Two jobs of a checkout share one template, each on an overlay of its
// own: neither sees the other's writes, the template keeps the checkout,
// and a later engine (a later run) finds it instead of copying again.
func TestTemplateSharedByJobsAndKept(t *testing.T) {
	e := templateEngine(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "one\n")
	ctx := context.Background()
	jobs := make([]*engine.Spec, 2)
	for i := range jobs {
		jobs[i] = setUpIn(t, e, fmt.Sprint(i), dir)
	}
	if got := runScript(t, e, jobs[0], "step-0", "cat f; echo two > f; touch new\n"); got != "one\n" {
		t.Errorf("first job saw %q", got)
	}
	if got := runScript(t, e, jobs[1], "step-0", "cat f; ls\n"); got != "one\nf\n" {
		t.Errorf("second job saw %q, want the checkout without the first job's writes", got)
	}
	if got := runScript(t, e, jobs[0], "step-1", "cat f; ls\n"); got != "two\nf\nnew\n" {
		t.Errorf("the first job's second step saw %q, want its own writes", got)
	}
	e.bg.Wait() // the template is published after the jobs may start
	ptrs := templatesOf(t, e, dir)
	if len(ptrs) != 1 {
		t.Fatalf("%d templates of the checkout, want 1", len(ptrs))
	}
	data := ptrs[0].Labels[labelTemplateData]
	ws, err := e.cli.VolumeInspect(ctx, name(jobs[0], "ws"), client.VolumeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := ws.Volume.Options; o["type"] != "overlay" || !strings.Contains(o["o"], "lowerdir="+ptrs[0].Labels[labelTemplateMount]+",") {
		t.Errorf("the job's workspace volume has options %v, want an overlay of %s", o, data)
	}
	if sup, err := e.cli.VolumeInspect(ctx, e.supportVolume, client.VolumeInspectOptions{}); err != nil || sup.Volume.Labels[labelOverlay] != "yes" {
		t.Errorf("overlay support recorded as %v (%v), want yes", sup.Volume.Labels, err)
	}

	// A later run: a new engine finds the template; no data volume is
	// added. A changed file makes a new one.
	later := newEngine(t)
	later.Templates, later.supportVolume = true, e.supportVolume
	s := setUpIn(t, later, "-later", dir)
	if got := runScript(t, later, s, "step-0", "cat f\n"); got != "one\n" {
		t.Errorf("a later run saw %q", got)
	}
	if n := len(dataVolumes(t, e, data)); n != 1 {
		t.Errorf("%d data volumes after a later run, want the one", n)
	}
	writeFile(t, filepath.Join(dir, "f"), "three\n")
	s2 := setUpIn(t, later, "-changed", dir)
	if got := runScript(t, later, s2, "step-0", "cat f\n"); got != "three\n" {
		t.Errorf("after a change the job saw %q", got)
	}
	later.bg.Wait()
	if n := len(templatesOf(t, e, dir)); n != 2 {
		t.Errorf("%d templates after a change, want 2", n)
	}

	// A template is not removed while a job reads it; once none does,
	// removing it removes its data.
	if err := e.RemoveCache(ctx, ptrs[0].Name); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("removing a template jobs read: %v, want in use", err)
	}
	for _, j := range append(jobs, s) {
		if err := e.Destroy(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.RemoveCache(ctx, ptrs[0].Name); err != nil {
		t.Fatal(err)
	}
	if n := len(dataVolumes(t, e, data)); n != 0 {
		t.Errorf("the data volume %s outlived its template", data)
	}
}

// setUpIn sets up a job of its own run (suffix) with dir as its checkout.
func setUpIn(t *testing.T, e *Engine, suffix, dir string) *engine.Spec {
	t.Helper()
	s := newSpec(t, e, engine.NetworkNone)
	s.RunID += suffix
	s.WorkspaceDir = dir
	if err := e.Setup(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// dataVolumes lists the volumes named data.
func dataVolumes(t *testing.T, e *Engine, data string) []string {
	t.Helper()
	res, err := e.cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: client.Filters{}.Add("name", data)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range res.Items {
		if v.Name == data {
			out = append(out, v.Name)
		}
	}
	return out
}

// Publishing a template removes the oldest beyond keepTemplates, except
// one a job still reads.
func TestTemplateEviction(t *testing.T) {
	e := templateEngine(t)
	ctx := context.Background()
	var dirs []string
	var busy *engine.Spec
	for i := 0; i < keepTemplates+2; i++ {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "f"), fmt.Sprint(i))
		dirs = append(dirs, dir)
		s := &engine.Spec{RunID: fmt.Sprintf("test-eviction-%d", i), Key: "j0", Owner: engine.Owner(),
			WorkspacePath: "/work", WorkspaceDir: dir, Network: engine.NetworkBridge}
		// A bridge job makes its sandbox in Setup: its overlay exists
		// from then on.
		if err := e.Setup(ctx, s); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			busy = s
			continue
		}
		if err := e.Destroy(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	e.bg.Wait() // eviction runs in the background
	defer func() {
		if err := e.Destroy(ctx, busy); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, e, busy.RunID)
	}()
	if n := len(templatesOf(t, e, dirs[0])); n != 1 {
		t.Errorf("the template a job reads was evicted (%d left)", n)
	}
	if n := len(templatesOf(t, e, dirs[1])); n != 0 {
		t.Errorf("the oldest unused template was kept")
	}
	if n := len(templatesOf(t, e, dirs[len(dirs)-1])); n != 1 {
		t.Errorf("the newest template was evicted")
	}
	if got := runScript(t, e, busy, "step-0", "cat f\n"); got != "0" {
		t.Errorf("the busy job saw %q", got)
	}

	// Beyond the bytes kept, only the newest (and the busy one) stay.
	defer func(n int64) { keepTemplateBytes = n }(keepTemplateBytes)
	keepTemplateBytes = 1
	last := t.TempDir()
	writeFile(t, filepath.Join(last, "f"), "last")
	s := &engine.Spec{RunID: "test-eviction-bytes", Key: "j0", Owner: engine.Owner(),
		WorkspacePath: "/work", WorkspaceDir: last, Network: engine.NetworkBridge}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.bg.Wait()
	left := len(templatesOf(t, e, last)) + len(templatesOf(t, e, dirs[0]))
	for _, d := range dirs[1:] {
		if n := len(templatesOf(t, e, d)); n != 0 {
			t.Errorf("a template of %s outlived the bytes kept", d)
		}
	}
	if left != 2 {
		t.Errorf("%d of the newest and the busy template left, want 2", left)
	}
}

// An engine that cannot mount overlays is recorded as such, and its jobs
// are copied as before.
func TestTemplateWithoutOverlaySupport(t *testing.T) {
	e := templateEngine(t)
	ctx := context.Background()
	if _, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: e.supportVolume, Labels: map[string]string{labelOverlay: "no"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "copied\n")
	s := newSpec(t, e, engine.NetworkNone)
	s.WorkspaceDir = dir
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.overlayOf(s); ok {
		t.Error("templated on an engine without overlays")
	}
	if got := runScript(t, e, s, "step-0", "cat f\n"); got != "copied\n" {
		t.Errorf("job saw %q", got)
	}
	if n := len(templatesOf(t, e, dir)); n != 0 {
		t.Errorf("%d templates made on an engine without overlays", n)
	}
}

// A template removed behind a process's back (evicted by another one) is
// not used: the next job of the process fills a new one.
func TestTemplateRemovedElsewhereIsFilledAgain(t *testing.T) {
	e := templateEngine(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "kept\n")
	first := setUpIn(t, e, "-first", dir)
	if got := runScript(t, e, first, "step-0", "cat f\n"); got != "kept\n" {
		t.Fatalf("first job saw %q", got)
	}
	if err := e.Destroy(ctx, first); err != nil {
		t.Fatal(err)
	}
	e.bg.Wait()
	other := newEngine(t)
	other.Templates, other.supportVolume = true, e.supportVolume
	for _, p := range templatesOf(t, e, dir) {
		if err := other.RemoveCache(ctx, p.Name); err != nil {
			t.Fatal(err)
		}
	}
	second := setUpIn(t, e, "-second", dir)
	if got := runScript(t, e, second, "step-0", "cat f\n"); got != "kept\n" {
		t.Errorf("after the template was removed elsewhere the job saw %q", got)
	}
	e.bg.Wait()
	if n := len(templatesOf(t, e, dir)); n != 1 {
		t.Errorf("%d templates after the refill, want 1", n)
	}
}
