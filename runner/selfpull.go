package runner

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// selfPulling is true for engines that pull images themselves.
func selfPulling(e engine.Engine) bool {
	_, ok := e.(engine.SelfPulling)
	return ok
}

// pullSpec tells a self-pulling engine how to pull img: the first policy
// (a platform has no fallback list), or the default rule, and the
// credentials found for it, in the same order as for the Docker engine.
func (r *run) pullSpec(ctx context.Context, j *plan.Job, img pipeline.Image) (*engine.Pull, error) {
	ref, err := image.Parse(img.Ref)
	if err != nil {
		return nil, err
	}
	p := &engine.Pull{Policy: enginePolicy(img.Pull, ref)}
	auth, source, err := r.registryAuth(ctx, j, img, ref)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", img.Name, err)
	}
	if auth != nil {
		r.say(j.Name, "Image %s will be pulled with credentials from %s", img.Name, source)
		p.Auth = auth
	}
	return p, nil
}

// enginePolicy is the policy a self-pulling engine applies: the first of
// the list, else the default rule (a floating latest is always pulled).
func enginePolicy(list []pipeline.PullPolicy, ref image.Reference) engine.PullPolicy {
	first := pipeline.PullIfNotExists
	switch {
	case len(list) > 0:
		first = list[0]
	case image.Floating(ref):
		first = pipeline.PullAlways
	}
	switch first {
	case pipeline.PullAlways:
		return engine.PullAlways
	case pipeline.PullNever:
		return engine.PullNever
	}
	return engine.PullIfNotPresent
}
