package kube

import (
	"context"
	"errors"
	"io"

	"github.com/slipway-ci/slipway/engine"
)

// errNoArtifacts: a pod's workspace is an emptyDir that goes with the
// pod, and copying files in and out of it would need exec into a
// container (tar in the image); slipway does not do that yet.
var errNoArtifacts = errors.New("artifacts are not supported on Kubernetes")

// Export refuses: see errNoArtifacts.
func (e *Engine) Export(context.Context, *engine.Spec) (io.ReadCloser, error) {
	return nil, errNoArtifacts
}
