package runner

import (
	"context"

	"github.com/slipway-ci/slipway/pipeline"
)

// checkPortClash refuses, before any service starts, two services of a
// shared network namespace that would listen on the same port: the second
// would fail to bind, and its health check would wait in vain. Only
// services that keep their image's command are compared, since a
// command or entrypoint override may move the port.
func (jb *job) checkPortClash(ctx context.Context) error {
	j := jb.j
	if j.Network != pipeline.NetworkSharedLocalhost {
		return nil
	}
	owner := map[int]*pipeline.Service{}
	for _, svc := range j.Services {
		if svc.Command != nil || svc.Entrypoint != nil {
			continue
		}
		ports, err := jb.servicePorts(ctx, svc)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if other, ok := owner[p]; ok {
				return pipeline.Errorf(svc.Pos, "services %s (%s) and %s (%s) both listen on port %d, and Drone's services share one network namespace: give one of them a command that uses another port",
					other.Name, other.Image.Name, svc.Name, svc.Image.Name, p)
			}
			owner[p] = svc
		}
	}
	return nil
}
