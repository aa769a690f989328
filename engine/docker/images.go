package docker

import (
	"context"
	"errors"
	"fmt"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// ImageInfo inspects a local image.
func (e *Engine) ImageInfo(ctx context.Context, ref string) (engine.ImageInfo, error) {
	res, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return engine.ImageInfo{}, fmt.Errorf("%s: %w", ref, engine.ErrImageNotFound)
		}
		return engine.ImageInfo{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	var info engine.ImageInfo
	if res.Config != nil {
		info.ExposedTCPPorts = tcpPorts(res.Config.ExposedPorts)
	}
	return info, nil
}

// tcpPorts turns {"6379/tcp": {}} into [6379], sorted.
func tcpPorts(exposed map[string]struct{}) []int {
	var ports []int
	for p := range exposed {
		num, proto, _ := strings.Cut(p, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil {
			ports = append(ports, n)
		}
	}
	sort.Ints(ports)
	return ports
}

// PullImage pulls ref, reporting progress, and returns the registry's own
// error message when the pull fails, after a short classification of the
// cause (authentication failed, registry unreachable, not found).
//
// A progress event's Status is Docker's status for the layer ("Pulling fs
// layer", "Downloading", "Pull complete", "Already exists"...), followed by
// " current/total" in bytes, human-readable, while a layer downloads or
// extracts: "Downloading 12.3MB/40.1MB". Events without a layer are the
// image's own ("Digest: sha256:...", "Status: Image is up to date for ...").
func (e *Engine) PullImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(engine.PullEvent)) error {
	encoded, err := encodeAuth(auth)
	if err != nil {
		return err
	}
	resp, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: encoded})
	if err != nil {
		return pullError(ctx, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return pullError(ctx, err)
		}
		if msg.Error != nil {
			return pullError(ctx, errors.New(msg.Error.Message))
		}
		if progress != nil && msg.Status != "" {
			status := msg.Status
			if p := msg.Progress; p != nil && p.Total > 0 && p.Units == "" {
				status += " " + humanSize(p.Current) + "/" + humanSize(p.Total)
			}
			progress(engine.PullEvent{Layer: msg.ID, Status: status})
		}
	}
	return nil
}

// humanSize is Docker's decimal size notation: 12.35MB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// pullFailure is a failed pull with a short, plain statement of the cause
// in front of what the engine or the registry said.
type pullFailure struct {
	cause string // "authentication failed", "registry unreachable", ...
	msg   string // the engine's message, without "Error response from daemon: "
	err   error
}

func (p *pullFailure) Error() string {
	if p.cause == "" {
		return p.msg
	}
	return p.cause + ": " + p.msg
}

func (p *pullFailure) Unwrap() error { return p.err }

// pullError says why a pull failed. The engine reports every registry
// problem as a plain message (API 1.41 gives no useful status code for
// them), so the cause is recognised from the distribution client's and the
// registry's own wording.
func pullError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	low := strings.ToLower(msg)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(low, w) {
				return true
			}
		}
		return false
	}
	cause := ""
	switch {
	case has("no basic auth credentials", "unauthorized", "authentication required", "401 unauthorized", "incorrect username or password"):
		cause = "authentication failed"
	case has("pull access denied", "denied:", "requested access to the resource is denied"):
		cause = "access denied (the repository does not exist, or needs credentials)"
	case has("toomanyrequests", "too many requests"):
		cause = "the registry refused: too many requests"
	case has("server gave http response to https client"):
		cause = "the registry speaks plain HTTP, and the engine wants HTTPS (list it in the engine's insecure-registries)"
	case has("x509:", "certificate signed by unknown authority", "certificate is not valid"):
		cause = "the registry's TLS certificate is not trusted by the engine"
	case has("connection refused", "no such host", "i/o timeout", "network is unreachable", "connection reset",
		"tls handshake timeout", "server misbehaving", "no route to host"):
		cause = "registry unreachable"
	case has("manifest unknown", "not found", "name unknown") || errdefs.IsNotFound(err):
		cause = "not found in the registry"
	}
	return &pullFailure{cause: cause, msg: msg, err: err}
}

// encodeAuth is the value of the Engine API's X-Registry-Auth header:
// base64url JSON of moby's registry.AuthConfig; "" pulls anonymously.
func encodeAuth(a *engine.RegistryAuth) (string, error) {
	if a == nil {
		return "", nil
	}
	return authconfig.Encode(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		ServerAddress: a.Registry,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	})
}
