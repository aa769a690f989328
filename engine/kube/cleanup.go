package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-ci/slipway/engine"
)

// destroyWait bounds the wait for a deleted pod to be gone.
const destroyWait = 90 * time.Second

// Destroy deletes the job's pod and secrets, found by label so that it
// works whatever Setup or Run got to, and waits until the pod is gone.
// The pod's containers get a second to stop (none after a Kill); its
// workspace (an emptyDir) goes with it.
func (e *Engine) Destroy(ctx context.Context, s *engine.Spec) error {
	j := e.forget(s)
	grace := int64(1)
	if j != nil && j.killed.Load() {
		grace = 0
	}
	err := e.removeLabelled(ctx, jobSelector(s), grace)
	if j != nil {
		j.stopWatch()
	}
	return err
}

// removeLabelled deletes the pods and secrets matching selector and waits
// for the pods to be gone; objects already gone are not an error.
func (e *Engine) removeLabelled(ctx context.Context, selector string, grace int64) error {
	pods := e.core.Pods(e.ns)
	secrets := e.core.Secrets(e.ns)
	opts := metav1.ListOptions{LabelSelector: selector}
	var errs []error
	pl, err := pods.List(ctx, opts)
	if err != nil {
		return fmt.Errorf("list pods %s: %w", selector, err)
	}
	for _, p := range pl.Items {
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(grace)}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
		}
	}
	sl, err := secrets.List(ctx, opts)
	if err != nil {
		errs = append(errs, fmt.Errorf("list secrets %s: %w", selector, err))
	} else {
		for _, sec := range sl.Items {
			if err := secrets.Delete(ctx, sec.Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete secret %s: %w", sec.Name, err))
			}
		}
	}
	if len(pl.Items) > 0 {
		if err := e.waitGone(ctx, selector); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitGone polls until no pod matches selector.
func (e *Engine) waitGone(ctx context.Context, selector string) error {
	ctx, cancel := context.WithTimeout(ctx, destroyWait)
	defer cancel()
	for {
		pl, err := e.core.Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(pl.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			names := []string{}
			if pl != nil {
				for _, p := range pl.Items {
					names = append(names, p.Name)
				}
			}
			return fmt.Errorf("pods %s still terminating after %s (the kubelet will remove them)", strings.Join(names, ", "), destroyWait)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Collect removes the pods and secrets of runs whose slipway process, on
// this host, is gone. Runs of live processes or other hosts are left
// alone, and only objects with slipway's labels are listed at all.
func (e *Engine) Collect(ctx context.Context) (int, error) {
	opts := metav1.ListOptions{LabelSelector: engine.LabelRun}
	owners := map[string]string{} // run label → owner
	pl, err := e.core.Pods(e.ns).List(ctx, opts)
	if err != nil {
		return 0, err
	}
	for _, p := range pl.Items {
		owners[p.Labels[engine.LabelRun]] = p.Annotations[annotationPrefix+"owner"]
	}
	sl, err := e.core.Secrets(e.ns).List(ctx, opts)
	if err != nil {
		return 0, err
	}
	for _, s := range sl.Items {
		owners[s.Labels[engine.LabelRun]] = s.Annotations[annotationPrefix+"owner"]
	}
	n := 0
	var errs []error
	for run, owner := range owners {
		if run == "" || !engine.OwnerGone(owner) {
			continue
		}
		if err := e.removeLabelled(ctx, engine.LabelRun+"="+run, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
