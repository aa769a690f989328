// Package docker implements engine.Engine on the Docker Engine API.
//
// Every object it creates is named from the run id and job key and carries
// the slipway.run, slipway.job and slipway.owner labels: Destroy removes a
// job's objects by label, so even a half-finished Setup or Run leaves
// nothing behind, and Collect finds what a killed process left.
package docker

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// Engine talks to one Docker Engine.
type Engine struct {
	// Templates turns workspace templates on (template.go): a checkout
	// is copied once and each job mounts an overlay of the copy. exec's
	// checkout is the same for every job, and often from one run to the
	// next; a runner shares one checkout among the jobs of a commit
	// (agent/checkouts.go).
	Templates bool

	cli   *client.Client
	pause pauseImage
	// templates are the templates found or filled, by key; overlays the
	// jobs whose workspace is an overlay of one, by job.
	templatesMu sync.Mutex
	templates   map[string]*templateFill
	overlays    sync.Map
	// bg is the work a job does not wait for (a template's fill once it
	// started, eviction), which Close waits for.
	bg sync.WaitGroup
	// supportVolume records whether the engine mounts overlays
	// (overlaySupport; tests use their own).
	supportVolume string
	// pending holds the workspaces still to be copied (see fillWorkspace),
	// by job.
	pending sync.Map
	// ips are the addresses Dial found, by container name.
	ips sync.Map
}

var _ engine.Engine = (*Engine)(nil)

// New connects to the engine named by DOCKER_HOST (or the default socket),
// negotiating the API version so that old engines (API 1.41) work.
func New() (*Engine, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return &Engine{cli: cli, supportVolume: overlaySupport}, nil
}

// Close waits for the work in the background, then releases the client's
// connections.
func (e *Engine) Close() error {
	e.bg.Wait()
	return e.cli.Close()
}

// Ping checks that the engine answers.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		return fmt.Errorf("cannot reach the Docker Engine at %s (is dockerd running? is DOCKER_HOST right?): %v", host, err)
	}
	return nil
}

// name is the engine-wide name of a job object: slipway-<run>-<key>[-<part>].
func name(s *engine.Spec, part string) string {
	n := "slipway-" + s.RunID + "-" + s.Key
	if part != "" {
		n += "-" + part
	}
	return n
}

func jobLabel(s *engine.Spec) string { return s.RunID + "/" + s.Key }

func labels(s *engine.Spec, role string) map[string]string {
	return map[string]string{
		engine.LabelRun:   s.RunID,
		engine.LabelJob:   jobLabel(s),
		engine.LabelOwner: s.Owner,
		"slipway.role":    role,
	}
}
