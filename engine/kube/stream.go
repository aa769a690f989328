package kube

import (
	"context"
	"errors"
	"io"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/remotecommand"
)

// errNoStreams: the engine has no REST configuration (a fake client).
var errNoStreams = errors.New("no streaming connection to the cluster")

// attach feeds stdin to a running container that was created with stdin
// and stdinOnce: the attach session ends once stdin is delivered, and the
// kubelet then closes the container's stdin.
func (e *Engine) attach(ctx context.Context, pod, container string, stdin io.Reader) error {
	if e.rest == nil {
		return errNoStreams
	}
	req := e.core.RESTClient().Post().Namespace(e.ns).Resource("pods").Name(pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: container, Stdin: true}, parameterCodec)
	return e.stream(ctx, req.URL().String(), remotecommand.StreamOptions{Stdin: stdin})
}

// exec runs cmd in a container, with its output to stdout and stderr.
func (e *Engine) exec(ctx context.Context, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	if e.rest == nil {
		return errNoStreams
	}
	req := e.core.RESTClient().Post().Namespace(e.ns).Resource("pods").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: stdout != nil, Stderr: stderr != nil}, parameterCodec)
	return e.stream(ctx, req.URL().String(), remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
}

// stream runs one remotecommand session over WebSocket, falling back to
// SPDY for API servers (or proxies) that cannot upgrade to WebSocket, as
// kubectl does.
func (e *Engine) stream(ctx context.Context, rawURL string, opts remotecommand.StreamOptions) error {
	if e.rest == nil {
		return errNoStreams
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.rest, "POST", u)
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(e.rest, "GET", rawURL)
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, opts)
}
