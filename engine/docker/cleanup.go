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
	e.ips.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), name(s, "")+"-") {
			e.ips.Delete(k)
		}
		return true
	})
	return e.removeLabelled(ctx, engine.LabelJob+"="+jobLabel(s))
}

// removeLabelled removes every container, network and volume carrying the
// label filter; objects already gone are not an error.
func (e *Engine) removeLabelled(ctx context.Context, label string) error {
	f := client.Filters{}.Add("label", label)
	var errs []error
	ctrs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range ctrs.Items {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !gone(err) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(c.ID)
	}
	wg.Wait()
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets.Items {
		if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !gone(err) {
			errs = append(errs, err)
		}
	}
	vols, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vols.Items {
		if err := e.removeVolume(ctx, v.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
	f := client.Filters{}.Add("label", engine.LabelRun)
	owners := map[string]string{} // run id → owner
	ctrs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, err
	}
	for _, c := range ctrs.Items {
		owners[c.Labels[engine.LabelRun]] = c.Labels[engine.LabelOwner]
	}
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	for _, n := range nets.Items {
		owners[n.Labels[engine.LabelRun]] = n.Labels[engine.LabelOwner]
	}
	vols, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	for _, v := range vols.Items {
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
