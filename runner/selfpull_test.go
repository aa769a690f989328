package runner

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
)

func TestEnginePolicy(t *testing.T) {
	always, ifNot, never := pipeline.PullAlways, pipeline.PullIfNotExists, pipeline.PullNever
	for _, tc := range []struct {
		img  string
		list []pipeline.PullPolicy
		want engine.PullPolicy
	}{
		{"docker.io/library/busybox:1.35", nil, engine.PullIfNotPresent},
		{"docker.io/library/busybox:latest", nil, engine.PullAlways},
		{"docker.io/library/busybox", nil, engine.PullAlways},
		{"docker.io/library/busybox:latest@sha256:" + strings.Repeat("a", 64), nil, engine.PullIfNotPresent},
		{"docker.io/library/busybox:1.35", []pipeline.PullPolicy{always}, engine.PullAlways},
		{"docker.io/library/busybox:latest", []pipeline.PullPolicy{ifNot}, engine.PullIfNotPresent},
		{"docker.io/library/busybox:1.35", []pipeline.PullPolicy{never, always}, engine.PullNever},
	} {
		ref, err := image.Parse(tc.img)
		if err != nil {
			t.Fatal(err)
		}
		if got := enginePolicy(tc.list, ref); got != tc.want {
			t.Errorf("enginePolicy(%v, %s) = %s, want %s", tc.list, tc.img, got, tc.want)
		}
	}
}
