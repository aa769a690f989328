package runner

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
)

// selfPulling is true for engines that pull images themselves.
func selfPulling(e engine.Engine) bool {
	_, ok := e.(engine.SelfPulling)
	return ok
}

// pullSpec tells a self-pulling engine how to pull img: the first policy
// (a platform has no fallback list) and the credentials found for it, in
// the same order as for the Docker engine.
func (r *Runner) pullSpec(ctx context.Context, j *pipeline.Job, img pipeline.Image) (*engine.Pull, error) {
	p := &engine.Pull{}
	if len(img.Pull) > 0 {
		p.Policy = string(img.Pull[0])
	}
	ref, err := image.Parse(img.Ref)
	if err != nil {
		return nil, err
	}
	auth, found, err := r.credentials(ctx, j, img, ref)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", img.Name, err)
	}
	if found {
		r.con.printf("Image %s will be pulled with credentials from %s", img.Name, auth.Source)
		p.Auth = &engine.RegistryAuth{Registry: ref.Domain(), Username: auth.Username,
			Password: auth.Password, IdentityToken: auth.IdentityToken}
	}
	return p, nil
}
