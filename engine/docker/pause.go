package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// pauseRef is the image of the sandbox container that holds a job's
// workspace volume and, for Drone pipelines, the network namespace that
// services and steps share. No registry is needed: the image is made here
// from a 129-byte static program, so slipway works offline.
const pauseRef = "slipway/pause:1"

type pauseImage struct {
	once sync.Once
	err  error
}

// ensurePause imports the pause image when the engine lacks it.
func (e *Engine) ensurePause(ctx context.Context) error {
	e.pause.once.Do(func() {
		if _, err := e.cli.ImageInspect(ctx, pauseRef); err == nil {
			return
		} else if !errdefs.IsNotFound(err) {
			e.pause.err = err
			return
		}
		e.pause.err = e.importPause(ctx)
	})
	return e.pause.err
}

func (e *Engine) importPause(ctx context.Context) error {
	ver, err := e.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return err
	}
	if ver.Arch != "amd64" {
		return fmt.Errorf("slipway's sandbox image is only built for amd64 engines; this engine is %s", ver.Arch)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	prog := pauseELFAmd64()
	_ = tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(prog)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(prog)
	_ = tw.Close()
	res, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, pauseRef,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/pause"]`}, Message: "slipway sandbox"})
	if err != nil {
		return fmt.Errorf("create sandbox image %s: %w", pauseRef, err)
	}
	defer res.Close()
	_, err = bytes.NewBuffer(nil).ReadFrom(res)
	return err
}

// pauseELFAmd64 is a minimal x86-64 Linux executable: one PT_LOAD segment
// whose code loops on pause(2) forever. As PID 1 it ignores SIGTERM, so it
// is removed with a kill, which Destroy does anyway.
func pauseELFAmd64() []byte {
	const base = 0x400000
	code := []byte{
		0xb8, 0x22, 0x00, 0x00, 0x00, // mov eax, 34 (pause)
		0x0f, 0x05, // syscall
		0xeb, 0xf7, // jmp back to mov
	}
	const hdr = 64 + 56
	size := uint64(hdr + len(code))
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	for _, v := range []any{
		uint16(2), uint16(0x3e), uint32(1), uint64(base + hdr), uint64(64), uint64(0),
		uint32(0), uint16(64), uint16(56), uint16(1), uint16(64), uint16(0), uint16(0),
		// program header: PT_LOAD, R+X, whole file at base
		uint32(1), uint32(5), uint64(0), uint64(base), uint64(base), size, size, uint64(0x1000),
	} {
		_ = binary.Write(&b, le, v)
	}
	b.Write(code)
	return b.Bytes()
}
