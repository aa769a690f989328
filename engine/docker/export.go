package docker

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// Export streams the job's workspace volume as a tar, read through a
// container made for it (from the pause image, never started): the
// job's own containers may be gone. The container is removed when the
// stream is closed, and by Destroy in any case (it carries the job's
// labels).
func (e *Engine) Export(ctx context.Context, s *engine.Spec) (io.ReadCloser, error) {
	if err := e.ensurePause(ctx); err != nil {
		return nil, err
	}
	ctr := name(s, "export")
	api := context.WithoutCancel(ctx)
	if _, err := e.cli.ContainerCreate(api, client.ContainerCreateOptions{
		Name:       ctr,
		Config:     &container.Config{Image: pauseRef, Labels: labels(s, "export")},
		HostConfig: &container.HostConfig{Mounts: e.workspaceMount(s)},
	}); err != nil {
		return nil, fmt.Errorf("create export container: %w", err)
	}
	res, err := e.cli.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: s.WorkspacePath})
	if err != nil {
		e.removeExport(api, ctr)
		return nil, fmt.Errorf("copy the workspace out of the job: %w", err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(relative(res.Content, pw))
		_ = res.Content.Close()
	}()
	return &exportStream{PipeReader: pr, done: func() { e.removeExport(api, ctr) }}, nil
}

func (e *Engine) removeExport(ctx context.Context, ctr string) {
	_, _ = e.cli.ContainerRemove(ctx, ctr, client.ContainerRemoveOptions{Force: true})
}

type exportStream struct {
	*io.PipeReader
	done func()
}

func (s *exportStream) Close() error {
	err := s.PipeReader.Close()
	s.done()
	return err
}

// relative copies the engine's tar of the workspace directory, whose
// entries start with the directory's own name, as a tar of entries
// relative to it; the directory's own entry is left out.
func relative(r io.Reader, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		_, rest, ok := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/")
		if !ok {
			continue
		}
		h.Name = rest
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
