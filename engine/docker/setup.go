package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/internal/tarball"
)

// Setup creates the job's network (when it needs one) and, for a job
// with services, the sandbox container that holds the workspace volume
// (and a shared namespace): the workspace is copied into the volume
// through the sandbox before any other container starts. A job without
// services gets no sandbox: its workspace is copied through its first
// container, after that is created and before it starts (fillWorkspace),
// which saves a container create and remove per job; an empty workspace
// is not copied at all.
func (e *Engine) Setup(ctx context.Context, s *engine.Spec) error {
	// An object-creating call cut off by a Ctrl-C may still complete in
	// the engine after Destroy has listed the job's objects, and be left
	// behind: creations run to the end, and ctx is checked between them.
	api := context.WithoutCancel(ctx)
	if s.Network != engine.NetworkNone {
		if _, err := e.cli.NetworkCreate(api, name(s, ""), client.NetworkCreateOptions{
			Driver: "bridge", Labels: labels(s, "network"),
		}); err != nil {
			return fmt.Errorf("create job network: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := e.useTemplate(ctx, s); err != nil {
		return err
	}
	// The workspace volume is made by the first container that mounts it
	// (see workspaceMount): no call of its own.
	if s.Network == engine.NetworkNone {
		if !emptyWorkspace(s) {
			e.pending.Store(name(s, ""), &pendingCopy{})
		}
		return nil
	}
	if err := e.ensurePause(ctx); err != nil {
		return err
	}
	sandbox := name(s, "sandbox")
	if err := ctx.Err(); err != nil {
		return err
	}
	host := &container.HostConfig{Mounts: e.workspaceMount(s), NetworkMode: networkMode(s)}
	if s.Network == engine.NetworkShared {
		setResolver(host, sharedResolver(s))
	}
	if _, err := e.cli.ContainerCreate(api, client.ContainerCreateOptions{
		Name:             sandbox,
		Config:           &container.Config{Image: pauseRef, Labels: labels(s, "sandbox")},
		HostConfig:       host,
		NetworkingConfig: endpoint(s, s.Aliases),
	}); err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	if err := e.copyWorkspace(ctx, sandbox, s); err != nil {
		return err
	}
	if s.Network == engine.NetworkShared {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := e.cli.ContainerStart(api, sandbox, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start sandbox: %w", err)
		}
	}
	return nil
}

// sharedResolver is the resolver settings of all the containers of a
// shared namespace, which has one resolver.
func sharedResolver(s *engine.Spec) engine.Resolver {
	var r engine.Resolver
	for _, c := range append(s.Services[:len(s.Services):len(s.Services)], s.Steps...) {
		if !c.HostNetwork {
			r = r.With(c.Resolver)
		}
	}
	return r
}

// pendingCopy is the workspace of a job without services, still to be
// copied into its volume.
type pendingCopy struct {
	once sync.Once
	err  error
}

// fillWorkspace copies the workspace into the job's volume through ctr, a
// container of the job that is created but not started, unless that has
// been done: the first step's container fills the volume, later steps
// (and after_script) find it filled.
func (e *Engine) fillWorkspace(ctx context.Context, s *engine.Spec, ctr string) error {
	v, ok := e.pending.Load(name(s, ""))
	if !ok {
		return nil
	}
	p := v.(*pendingCopy)
	p.once.Do(func() { p.err = e.copyWorkspace(ctx, ctr, s) })
	return p.err
}

// copyWorkspace copies the checkout (when there is one) and then the
// inputs into the job's volume.
func (e *Engine) copyWorkspace(ctx context.Context, ctr string, s *engine.Spec) error {
	if ov, ok := e.overlayOf(s); ok {
		// The checkout is the template's: wait until it is whole.
		if err := ov.fill.wait(ctx); err != nil {
			return err
		}
	} else if s.WorkspaceDir != "" {
		if _, err := e.copyDir(ctx, ctr, s, s.WorkspaceDir, s.WorkspaceSub); err != nil {
			return fmt.Errorf("copy workspace %s into the job: %w", s.WorkspaceDir, err)
		}
	}
	for _, dir := range s.Inputs {
		if emptyDir(dir) {
			continue // nothing to unpack at the top: no upload
		}
		if _, err := e.copyDir(ctx, ctr, s, dir, ""); err != nil {
			return fmt.Errorf("copy %s into the job's workspace: %w", dir, err)
		}
	}
	return nil
}

// copyDir streams dir as a tar into the volume, at sub below it, and
// returns the bytes of the stream; nothing is buffered whole, whatever
// the size of the directory.
func (e *Engine) copyDir(ctx context.Context, ctr string, s *engine.Spec, dir, sub string) (int64, error) {
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	go func() {
		pw.CloseWithError(tarball.Write(cw, dir, path.Join(s.WorkspacePath, sub), sub))
	}()
	_, err := e.cli.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{
		DestinationPath: s.WorkspacePath, Content: pr,
	})
	pr.CloseWithError(err)
	return cw.n, err
}

// countingWriter counts the bytes written through it to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// workspaceMount mounts the job's workspace volume. The engine creates
// the volume, with these labels, for the first container that mounts it:
// that saves an API call per job, and a volume only exists once a
// container does, which Destroy removes first. A templated workspace is
// an overlay of its template (template.go).
func (e *Engine) workspaceMount(s *engine.Spec) []mount.Mount {
	if ov, ok := e.overlayOf(s); ok {
		return []mount.Mount{ov.mount(s.WorkspacePath, labels(s, "workspace"))}
	}
	return []mount.Mount{{
		Type: mount.TypeVolume, Source: name(s, "ws"), Target: s.WorkspacePath,
		VolumeOptions: &mount.VolumeOptions{Labels: labels(s, "workspace")},
	}}
}

// emptyWorkspace is true when copying the workspace would copy nothing: no
// checkout and no inputs, or only empty directories (slipway's own left
// out, as tarball.Write does), unpacked at the volume's top. A directory
// that cannot be read is not empty: the copy reports the error.
func emptyWorkspace(s *engine.Spec) bool {
	if !emptyCheckout(s) {
		return false
	}
	for _, dir := range s.Inputs {
		if !emptyDir(dir) {
			return false
		}
	}
	return true
}

// emptyCheckout is true when the checkout alone would copy nothing.
func emptyCheckout(s *engine.Spec) bool {
	return s.WorkspaceDir == "" || s.WorkspaceSub == "" && emptyDir(s.WorkspaceDir)
}

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name() != tarball.Own || !e.IsDir() {
			return false
		}
	}
	return true
}

// networkMode is the network the sandbox joins.
func networkMode(s *engine.Spec) container.NetworkMode {
	if s.Network == engine.NetworkNone {
		return network.NetworkDefault
	}
	return container.NetworkMode(name(s, ""))
}

// memberMode is the network every other container of the job joins: in a
// shared namespace that of the sandbox, so 127.0.0.1 reaches every service.
func memberMode(s *engine.Spec) container.NetworkMode {
	if s.Network == engine.NetworkShared {
		return container.NetworkMode("container:" + name(s, "sandbox"))
	}
	return networkMode(s)
}

func endpoint(s *engine.Spec, aliases []string) *network.NetworkingConfig {
	if s.Network == engine.NetworkNone {
		return nil
	}
	return &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		name(s, ""): {Aliases: aliases},
	}}
}
