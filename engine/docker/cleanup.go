package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// Destroy removes the job's containers (in parallel), then its network and
// volume. It finds them by label, so it works whatever Setup or Run got to.
func (e *Engine) Destroy(ctx context.Context, s *engine.Spec) error {
	e.pending.Delete(name(s, ""))
	e.overlays.Delete(name(s, ""))
	e.ips.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), name(s, "")+"-") {
			e.ips.Delete(k)
		}
		return true
	})
	return e.removeLabelled(ctx, engine.LabelJob+"="+jobLabel(s))
}

// removeLabelled removes every container, network and volume carrying the
// label filter; objects already gone are not an error. The three lists
// are asked for at once (they are round trips on a job's critical path);
// the containers are removed first, as the others are in use until then,
// and then the volumes (a templated workspace has three) in parallel.
func (e *Engine) removeLabelled(ctx context.Context, label string) error {
	l := e.list(ctx, client.Filters{}.Add("label", label))
	if l.ctrErr != nil {
		return fmt.Errorf("list containers: %w", l.ctrErr)
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range l.ctrs.Items {
		wg.Go(func() {
			_, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !gone(err) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if l.netErr != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks: %w", l.netErr))...)
	}
	for _, n := range l.nets.Items {
		if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !gone(err) {
			errs = append(errs, err)
		}
	}
	if l.volErr != nil {
		return errors.Join(append(errs, fmt.Errorf("list volumes: %w", l.volErr))...)
	}
	for _, v := range l.vols.Items {
		wg.Go(func() {
			if err := e.removeVolume(ctx, v.Name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// listing is the containers, networks and volumes of one label filter.
type listing struct {
	ctrs                   client.ContainerListResult
	nets                   client.NetworkListResult
	vols                   client.VolumeListResult
	ctrErr, netErr, volErr error
}

// list asks for the three lists at once: each is a round trip, and
// Destroy's are on every job's critical path.
func (e *Engine) list(ctx context.Context, f client.Filters) listing {
	var l listing
	var wg sync.WaitGroup
	wg.Go(func() {
		l.ctrs, l.ctrErr = e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	})
	wg.Go(func() { l.nets, l.netErr = e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f}) })
	wg.Go(func() { l.vols, l.volErr = e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: f}) })
	wg.Wait()
	return l
}

// gone is true for an object already removed, or being removed by
// another slipway (two runs may collect the same leftovers at once).
func gone(err error) bool {
	return errdefs.IsNotFound(err) || strings.Contains(err.Error(), "already in progress")
}

// removeVolume retries a volume still in use by a container that another
// process is removing at the same moment.
func (e *Engine) removeVolume(ctx context.Context, vol string) error {
	var err error
	for i := 0; i < 10; i++ {
		if _, err = e.cli.VolumeRemove(ctx, vol, client.VolumeRemoveOptions{Force: true}); err == nil || gone(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "in use") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Collect removes what runs of dead slipway processes on this host left
// behind. Runs owned by live processes, or by other hosts, are left alone;
// objects without slipway's labels are never listed at all.
func (e *Engine) Collect(ctx context.Context) (int, error) {
	l := e.list(ctx, client.Filters{}.Add("label", engine.LabelRun))
	if err := errors.Join(l.ctrErr, l.netErr, l.volErr); err != nil {
		return 0, err
	}
	owners := map[string]string{} // run id → owner
	for _, c := range l.ctrs.Items {
		owners[c.Labels[engine.LabelRun]] = c.Labels[engine.LabelOwner]
	}
	for _, n := range l.nets.Items {
		owners[n.Labels[engine.LabelRun]] = n.Labels[engine.LabelOwner]
	}
	for _, v := range l.vols.Items {
		owners[v.Labels[engine.LabelRun]] = v.Labels[engine.LabelOwner]
	}
	n := 0
	var errs []error
	for run, owner := range owners {
		if run == "" || !engine.OwnerGone(owner) {
			continue
		}
		if err := e.removeLabelled(ctx, engine.LabelRun+"="+run); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
