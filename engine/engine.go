// Package engine defines the one interface through which the runner drives
// a container platform. The runner never sees a Docker or Kubernetes type,
// and an engine sees only the types of this package: engine/docker
// implements it on the Docker Engine API, engine/kube on Kubernetes.
package engine

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels put on every object an engine creates, so that cleanup and
// garbage collection find exactly what slipway made and nothing else.
const (
	LabelRun   = "slipway.run"   // the run id
	LabelJob   = "slipway.job"   // run id + "/" + job key
	LabelOwner = "slipway.owner" // host:pid of the process that made it
)

// Network says how the containers of one job reach each other.
type Network int

const (
	// NetworkNone: the job has no services; containers get the engine's
	// default network (no per-job network to create and remove).
	NetworkNone Network = iota
	// NetworkBridge: one network per job; services answer by DNS aliases.
	NetworkBridge
	// NetworkShared: services and steps share one network namespace
	// (127.0.0.1 reaches every service); the Aliases of Spec name it too.
	NetworkShared
)

// Spec is one job's sandbox: the objects that live as long as the job.
type Spec struct {
	RunID string
	// Key is unique within the run (a job index); names derive from it.
	Key     string
	Owner   string
	Network Network
	// Aliases are host names the shared namespace answers to
	// (NetworkShared only): the services' names.
	Aliases []string
	// WorkspaceDir is a host directory copied into a job volume mounted at
	// WorkspacePath in every container of the job. Copying, not
	// bind-mounting, keeps a job from changing the user's files.
	WorkspaceDir  string
	WorkspacePath string
	// Inputs are host directories copied into the workspace after the
	// checkout, in order (the artifacts of earlier jobs).
	Inputs []string
	// WorkspaceSub is where below WorkspacePath the checkout goes (a
	// relative slash path; "" for WorkspacePath itself): Drone's
	// workspace base is the volume, base/path the checkout.
	WorkspaceSub string
	// Services are the job's services, known before Setup. An engine whose
	// sandbox must declare them up front (a Kubernetes pod, where they are
	// sidecars) creates them in Setup; the Docker engine starts each one
	// in StartService instead.
	Services []*Container
	// Steps are the job's step containers, in order, known before Setup;
	// Run is later called with these same values. An engine whose
	// sandbox must declare volumes or pull credentials up front (a pod)
	// uses them; the Docker engine ignores them.
	Steps []*Container
}

// Container is one container of a job: a step or a service.
type Container struct {
	// Name is unique within the job ("step-1", "svc-redis").
	Name  string
	Image string
	// Entrypoint: nil keeps the image's; empty non-nil clears it.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// Stdin, when non-nil, is written to the container's standard input,
	// which is then closed.
	Stdin []byte
	// Aliases are DNS names on the job network (NetworkBridge).
	Aliases    []string
	Privileged bool
	Mounts     []Mount
	// Devices are host device files mapped into the container (Source is
	// the host path; ReadOnly drops the write permission).
	Devices []Mount
	// CapAdd are Linux capabilities added to the default set (NET_ADMIN).
	CapAdd []string
	// HostNetwork puts the container in the host's network namespace
	// instead of the job's.
	HostNetwork bool
	// User runs the container as a user (name or uid[:gid]) other than
	// the image's.
	User string
	// Resolver replaces the engine's DNS settings for the container. In a
	// shared namespace (NetworkShared), whose containers share one
	// resolver, the namespace takes those of all its containers.
	Resolver Resolver
	// StopGrace is how long a stop signal is given before a kill.
	StopGrace time.Duration
	// Pull is set only for engines that pull images themselves (see
	// SelfPulling): how, and with what credentials.
	Pull *Pull
}

// SelfPulling is implemented by engines whose platform pulls images when
// a container starts (Kubernetes: the kubelet, by imagePullPolicy). The
// runner does not pull for them; it puts each container's policy and
// credentials in Container.Pull instead.
type SelfPulling interface {
	SelfPulling()
}

// Pull is how one container's image is pulled by a SelfPulling engine.
type Pull struct {
	// Policy is decided by the caller, defaults applied.
	Policy PullPolicy
	// Auth is nil when no credentials apply.
	Auth *RegistryAuth
}

// PullPolicy says when a SelfPulling engine pulls an image.
type PullPolicy string

const (
	PullAlways       PullPolicy = "always"
	PullIfNotPresent PullPolicy = "if-not-present"
	PullNever        PullPolicy = "never"
)

// RegistryAuth is credentials for one registry. Never print it.
type RegistryAuth struct {
	// Registry is the registry's key as Docker names it: host[:port], or
	// https://index.docker.io/v1/ for Docker Hub.
	Registry      string
	Username      string
	Password      string
	IdentityToken string // an OAuth refresh token (docker login with a token)
	RegistryToken string // a bearer token sent to the registry as-is
}

// String never reveals the credentials.
func (a *RegistryAuth) String() string { return "credentials for " + a.Registry }

// Mount is a host path or named volume mounted into a container.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	// Tmpfs: memory-backed (Source names it), the container's own on
	// Docker, the pod's on Kubernetes.
	Tmpfs bool
}

// Resolver is DNS servers, search domains and "name:ip" host entries.
type Resolver struct {
	DNS, DNSSearch, ExtraHosts []string
}

// With is r plus more's entries.
func (r Resolver) With(more Resolver) Resolver {
	return Resolver{
		DNS:        append(r.DNS[:len(r.DNS):len(r.DNS)], more.DNS...),
		DNSSearch:  append(r.DNSSearch[:len(r.DNSSearch):len(r.DNSSearch)], more.DNSSearch...),
		ExtraHosts: append(r.ExtraHosts[:len(r.ExtraHosts):len(r.ExtraHosts)], more.ExtraHosts...),
	}
}

// ImageInfo is what the runner needs to know about an image.
type ImageInfo struct {
	// ExposedTCPPorts are the image's EXPOSEd TCP ports (health checks).
	ExposedTCPPorts []int
}

// State is the observed state of a container.
type State struct {
	Running  bool
	ExitCode int
	OOM      bool
	Error    string
}

// PullEvent is one progress report of an image pull.
type PullEvent struct {
	Layer  string
	Status string
}

// ErrImageNotFound is returned (wrapped) by ImageInfo for a missing image.
var ErrImageNotFound = errors.New("image not found")

// Engine runs containers. Methods taking a *Spec address objects of that
// job; all of them must be safe for concurrent use.
type Engine interface {
	// Ping checks the engine answers; the error says how to fix it.
	Ping(ctx context.Context) error
	// ImageInfo inspects a local image; ErrImageNotFound when absent.
	ImageInfo(ctx context.Context, ref string) (ImageInfo, error)
	// PullImage pulls ref, with credentials unless auth is nil.
	PullImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(PullEvent)) error

	// Setup creates the job's network and workspace volume.
	Setup(ctx context.Context, s *Spec) error
	// Run creates and starts c, streams its standard output and error to
	// stdout and stderr (an engine whose platform merges them writes both
	// to stdout), waits for it to exit and returns its exit code.
	// Cancelling ctx stops it (grace, then kill) before Run returns. The
	// streams are kept apart so that a masker sees each in order: bytes of
	// one interleaved into the other cannot hide a secret.
	Run(ctx context.Context, s *Spec, c *Container, stdout, stderr io.Writer) (int, error)
	// StartService creates and starts c in the background.
	StartService(ctx context.Context, s *Spec, c *Container) error
	// Inspect reports a container's state.
	Inspect(ctx context.Context, s *Spec, name string) (State, error)
	// Dial opens a TCP connection to port of a running container as the
	// job's other containers would see it (a health check probe).
	Dial(ctx context.Context, s *Spec, name string, port int) (io.Closer, error)
	// Logs writes the last tail lines (all when tail < 0) of a service's
	// output to w; with follow it goes on until the container stops.
	Logs(ctx context.Context, s *Spec, name string, tail int, follow bool, w io.Writer) error
	// Export streams the job's workspace volume as a tar whose entry
	// names are relative to WorkspacePath (to collect artifacts); the
	// caller closes it. It works after the steps have ended, until
	// Destroy.
	Export(ctx context.Context, s *Spec) (io.ReadCloser, error)
	// Kill stops a container at once.
	Kill(ctx context.Context, s *Spec, name string) error
	// Destroy removes every object of the job, whatever state it is in.
	Destroy(ctx context.Context, s *Spec) error
	// Collect removes objects left by runs whose owner process is gone
	// (not those of live runs, never anything slipway did not label).
	Collect(ctx context.Context) (int, error)
}
