package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
	"github.com/slipway-ci/slipway/engine/kube"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// engines are the engines a pipeline's jobs target (Job.Target): Docker
// for GitLab jobs and Drone's type: docker, Kubernetes for Drone's
// type: kubernetes and, with executor = "kubernetes", GitLab jobs. An
// engine no job needs is not contacted, except Docker, which a Kubernetes
// run asks (when it answers) for the images' exposed ports.
type engines struct {
	main     engine.Engine
	byTarget map[pipeline.Target]engine.Engine
	all      []engine.Engine
	close    func()
}

// targets are the engines a run needs.
type targets struct{ docker, kube bool }

// planTargets are the engines the plan's jobs need.
func planTargets(p *plan.Plan) targets {
	var t targets
	for _, j := range p.Jobs() {
		if j.Target == pipeline.TargetKubernetes {
			t.kube = true
		} else {
			t.docker = true
		}
	}
	return t
}

// openEngines opens and pings the engines t names; k and kubeconfig say
// which cluster.
func openEngines(ctx context.Context, t targets, k config.Kubernetes, kubeconfig string) (*engines, error) {
	needKube, needDocker := t.kube, t.docker
	es := &engines{byTarget: map[pipeline.Target]engine.Engine{}, close: func() {}}
	var images kube.ImageInspector
	dock, err := docker.New()
	if err == nil {
		es.close = func() { dock.Close() }
		if perr := dock.Ping(ctx); perr == nil {
			images = dock
		} else if needDocker {
			return nil, invalid(perr)
		}
	} else if needDocker {
		return nil, invalid(err)
	}
	if needDocker {
		es.main, es.byTarget[pipeline.TargetDocker] = dock, dock
		es.all = append(es.all, dock)
	}
	if needKube {
		cfg, err := kubeConfig(k, kubeconfig)
		if err != nil {
			return nil, invalid(err)
		}
		cfg.Images = images
		k, err := kube.New(cfg)
		if err != nil {
			return nil, invalid(err)
		}
		if err := k.Ping(ctx); err != nil {
			return nil, invalid(err)
		}
		if o := cfg.OwnerPod; !o.IsZero() && !k.OwnsJobs() {
			fmt.Fprintf(os.Stderr, "warning: the jobs' pods (namespace %s) cannot be owned by this pod %s (namespace %s): if it is deleted outright, they are left running\n", k.Namespace(), o.Name, o.Namespace)
		}
		es.byTarget[pipeline.TargetKubernetes] = k
		es.all = append(es.all, k)
		if es.main == nil {
			es.main = k
		}
	}
	return es, nil
}

// useTemplates turns Docker's workspace templates on or off: on, a
// checkout that is the same for several jobs is copied once.
func (es *engines) useTemplates(on bool) {
	if d, ok := es.byTarget[pipeline.TargetDocker].(*docker.Engine); ok {
		d.Templates = on
	}
}

// collect removes what killed runs left, on every engine in use.
func (es *engines) collect(ctx context.Context) {
	for _, e := range es.all {
		if n, err := e.Collect(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "warning: collecting what earlier runs left: %v\n", err)
		} else if n > 0 {
			fmt.Fprintf(os.Stderr, "removed what %d earlier killed run(s) left behind\n", n)
		}
	}
}

// kubeConfig is the engine configuration of [runners.kubernetes];
// --kubeconfig wins over the file's. The owner of the jobs' pods is the
// pod slipway runs in, when its environment names it (ownerPod).
func kubeConfig(k config.Kubernetes, kubeconfig string) (kube.Config, error) {
	if kubeconfig == "" {
		kubeconfig = k.Kubeconfig
	}
	owner, err := ownerPod()
	if err != nil {
		return kube.Config{}, err
	}
	c := kube.Config{
		Kubeconfig: kubeconfig, Context: k.Context, Namespace: k.Namespace,
		Requests: map[string]string{}, Limits: map[string]string{},
		NodeSelector: k.NodeSelector, ServiceAccount: k.ServiceAccount,
		ImagePullSecrets: k.ImagePullSecrets, HelperImage: k.HelperImage,
		PollTimeout: time.Duration(k.PollTimeout) * time.Second,
		OwnerPod:    owner,
	}
	for name, v := range map[string]string{"cpu": k.CPURequest, "memory": k.MemoryRequest, "ephemeral-storage": k.EphemeralStorageRequest} {
		if v != "" {
			c.Requests[name] = v
		}
	}
	for name, v := range map[string]string{"cpu": k.CPULimit, "memory": k.MemoryLimit, "ephemeral-storage": k.EphemeralStorageLimit} {
		if v != "" {
			c.Limits[name] = v
		}
	}
	return c, nil
}

// ownerPodEnv are the variables naming the pod slipway runs in, set by the
// downward API (deploy/kubernetes/runner.yaml): name, UID, namespace.
var ownerPodEnv = [3]string{"SLIPWAY_POD_NAME", "SLIPWAY_POD_UID", "SLIPWAY_POD_NAMESPACE"}

// ownerPod is the pod slipway runs in, from ownerPodEnv: all three
// variables or none (a pod named without its UID could be a later pod of
// the same name).
func ownerPod() (kube.PodRef, error) {
	var v [3]string
	n := 0
	for i, name := range ownerPodEnv {
		if v[i] = os.Getenv(name); v[i] != "" {
			n++
		}
	}
	if n != 0 && n != len(v) {
		return kube.PodRef{}, fmt.Errorf("set %s, %s and %s all three, or none (got %q, %q, %q)",
			ownerPodEnv[0], ownerPodEnv[1], ownerPodEnv[2], v[0], v[1], v[2])
	}
	return kube.PodRef{Name: v[0], UID: v[1], Namespace: v[2]}, nil
}
