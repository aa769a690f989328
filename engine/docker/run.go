package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// Run creates c, attaches to its output before starting it (so no byte is
// missed and nothing goes through the engine's log store), feeds Stdin,
// and returns the exit code once the output is drained.
func (e *Engine) Run(ctx context.Context, s *engine.Spec, c *engine.Container, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	// Once creation begins, the API calls outlive ctx: a cancel must not
	// leave a container started behind Run's back; wait stops it instead.
	api := context.WithoutCancel(ctx)
	id := name(s, c.Name)
	if err := e.create(api, s, c, "step"); err != nil {
		return -1, err
	}
	if err := e.fillWorkspace(api, s, id); err != nil {
		return -1, err
	}
	att, err := e.cli.ContainerAttach(api, id, client.ContainerAttachOptions{
		Stream: true, Stdin: c.Stdin != nil, Stdout: true, Stderr: true,
	})
	if err != nil {
		return -1, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	defer att.Close()
	// Ask for the exit before the start, as the docker CLI does: the exit
	// status then arrives as soon as the engine has it, not one more round
	// trip after the output ends. Cancelled if the start fails.
	wctx, cancelWait := context.WithCancel(api)
	defer cancelWait()
	exited := e.cli.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if c.Stdin != nil {
		// Written before the start, as `docker run -i` does: the engine
		// holds it for the process, which then reads its script at once
		// instead of one more round trip after the start.
		go func() {
			_, _ = att.Conn.Write(c.Stdin)
			_ = att.CloseWrite()
		}()
	}
	if _, err := e.cli.ContainerStart(api, id, client.ContainerStartOptions{}); err != nil {
		return -1, fmt.Errorf("start %s: %w", c.Name, err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	return e.wait(ctx, id, c, copied, exited)
}

// wait returns the exit code after the output is copied. A cancelled ctx
// stops the container (grace, then kill); the API calls themselves use a
// context that outlives ctx so the stop and the final wait still happen.
func (e *Engine) wait(ctx context.Context, id string, c *engine.Container, copied <-chan error, res client.ContainerWaitResult) (int, error) {
	api := context.WithoutCancel(ctx)
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, fmt.Errorf("read output of %s: %w", c.Name, err)
		}
	case <-ctx.Done():
		e.stop(api, id, c.StopGrace)
		<-copied
	}
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return -1, fmt.Errorf("%s: %s", c.Name, r.Error.Message)
		}
		return int(r.StatusCode), ctx.Err()
	case err := <-res.Error:
		return -1, fmt.Errorf("wait for %s: %w", c.Name, err)
	}
}

func (e *Engine) stop(ctx context.Context, id string, grace time.Duration) {
	secs := int(grace / time.Second)
	_, _ = e.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
}

// StartService creates and starts c in the background; its output goes to
// the engine's log store so that Logs can show it when it fails.
func (e *Engine) StartService(ctx context.Context, s *engine.Spec, c *engine.Container) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// As in Run: a creation cut off by a cancel could complete in the
	// engine after Destroy looked, so it runs to the end.
	api := context.WithoutCancel(ctx)
	if err := e.create(api, s, c, "service"); err != nil {
		return err
	}
	if _, err := e.cli.ContainerStart(api, name(s, c.Name), client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	return nil
}

func (e *Engine) create(ctx context.Context, s *engine.Spec, c *engine.Container, role string) error {
	cfg := &container.Config{
		Image:        c.Image,
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		Env:          c.Env,
		WorkingDir:   c.WorkingDir,
		User:         c.User,
		Labels:       labels(s, role),
		AttachStdout: role == "step",
		AttachStderr: role == "step",
		AttachStdin:  c.Stdin != nil,
		OpenStdin:    c.Stdin != nil,
		StdinOnce:    c.Stdin != nil,
	}
	if c.Entrypoint != nil && len(c.Entrypoint) == 0 {
		// The API reads an empty list as "keep the image's"; [""] clears it.
		cfg.Entrypoint = []string{""}
	}
	ms, err := e.mounts(ctx, s, c.Mounts)
	if err != nil {
		return err
	}
	host := &container.HostConfig{
		NetworkMode: memberMode(s),
		Mounts:      append(e.workspaceMount(s), ms...),
		Privileged:  c.Privileged,
		CapAdd:      c.CapAdd,
	}
	host.Devices = devices(c.Devices)
	if s.Network != engine.NetworkShared || c.HostNetwork {
		// A member of a shared namespace uses the sandbox's resolver.
		setResolver(host, c.Resolver)
	}
	if role == "step" {
		// Output is read from the attach stream; the engine's log store
		// would only double the cost of every byte.
		host.LogConfig = container.LogConfig{Type: "none"}
		// The engine's init (docker-init, i.e. tini, bind-mounted from the
		// host, so any image has it) is PID 1 and passes SIGTERM on to the
		// script's shell and, told so by the variable, to every process of
		// its group: the command in the foreground too. Without it the
		// shell is PID 1 and ignores TERM, and even a trap waits for the
		// foreground command: every stop took the whole grace period.
		host.Init = new(true)
		cfg.Env = append(slices.Clip(cfg.Env), "TINI_KILL_PROCESS_GROUP=1")
	}
	var aliases []string
	if s.Network == engine.NetworkBridge {
		aliases = c.Aliases
	}
	netCfg := endpoint(s, aliases)
	if s.Network == engine.NetworkShared {
		netCfg = nil
	}
	if c.HostNetwork {
		// A trusted file asked for the host's namespace: no job network,
		// and a health check finds the service on the host's loopback.
		host.NetworkMode, netCfg = container.NetworkMode("host"), nil
		e.ips.Store(name(s, c.Name), netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	_, err = e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name(s, c.Name), Config: cfg, HostConfig: host, NetworkingConfig: netCfg,
	})
	if err != nil {
		return fmt.Errorf("create %s from %s: %w", c.Name, c.Image, err)
	}
	return nil
}

func setResolver(host *container.HostConfig, r engine.Resolver) {
	host.DNSSearch, host.ExtraHosts = r.DNSSearch, r.ExtraHosts
	for _, d := range r.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			host.DNS = append(host.DNS, a)
		}
	}
}

// devices maps host device files; read-only devices get "rm" (no write).
func devices(ds []engine.Mount) []container.DeviceMapping {
	var out []container.DeviceMapping
	for _, d := range ds {
		perms := "rwm"
		if d.ReadOnly {
			perms = "rm"
		}
		out = append(out, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: perms})
	}
	return out
}

// mounts binds host paths as they are; a name that is not a path (Drone's
// temp volumes) becomes a volume of this job only: labelled, shared by the
// job's containers, removed with the job.
func (e *Engine) mounts(ctx context.Context, s *engine.Spec, ms []engine.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, m := range ms {
		if m.Tmpfs {
			out = append(out, mount.Mount{Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly})
			continue
		}
		if strings.HasPrefix(m.Source, "/") {
			out = append(out, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
			continue
		}
		vol := name(s, "vol-"+m.Source)
		// Creating an existing volume returns it: the first container of
		// the job makes it, the others share it.
		if _, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol, Labels: labels(s, "volume")}); err != nil {
			return nil, fmt.Errorf("create volume %s: %w", m.Source, err)
		}
		out = append(out, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// Inspect reports a container's state.
func (e *Engine) Inspect(ctx context.Context, s *engine.Spec, n string) (engine.State, error) {
	res, err := e.cli.ContainerInspect(ctx, name(s, n), client.ContainerInspectOptions{})
	if err != nil {
		return engine.State{}, err
	}
	st := res.Container.State
	if st == nil {
		return engine.State{}, nil
	}
	return engine.State{Running: st.Running, ExitCode: st.ExitCode, OOM: st.OOMKilled, Error: st.Error}, nil
}

// dialTimeout bounds one health-check connection attempt.
const dialTimeout = 500 * time.Millisecond

// Dial connects to a service's port at its address on the job network,
// from this host: the engine is local, so its bridge addresses are
// reachable, and no probe container has to be created.
func (e *Engine) Dial(ctx context.Context, s *engine.Spec, n string, port int) (io.Closer, error) {
	ip, target, err := e.address(ctx, s, n)
	if err != nil {
		return nil, err
	}
	// On a local bridge a listening port answers in well under a
	// millisecond; the timeout only matters when the container is gone
	// (no answer at all). Anything but a refusal forgets the address.
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil && !errors.Is(err, syscall.ECONNREFUSED) && !ip.IsLoopback() {
		e.ips.Delete(target)
	}
	return conn, err
}

// address is where container n listens, seen from this host, and the
// container that owns that address.
func (e *Engine) address(ctx context.Context, s *engine.Spec, n string) (netip.Addr, string, error) {
	// A container keeps its address while it runs: inspected once, not at
	// every probe (Destroy forgets it). Host-network containers were
	// stored as loopback when they were created; in a shared namespace
	// the others listen at the sandbox's address.
	target := name(s, n)
	if _, own := e.ips.Load(target); !own && s.Network == engine.NetworkShared {
		target = name(s, "sandbox")
	}
	if ip, ok := e.ips.Load(target); ok {
		return ip.(netip.Addr), target, nil
	}
	res, err := e.cli.ContainerInspect(ctx, target, client.ContainerInspectOptions{})
	if err != nil {
		return netip.Addr{}, target, err
	}
	addr := containerIP(res.Container, name(s, ""))
	if !addr.IsValid() {
		return netip.Addr{}, target, fmt.Errorf("%s has no address on the job network", n)
	}
	ip, _ := e.ips.LoadOrStore(target, addr)
	return ip.(netip.Addr), target, nil
}

func containerIP(c container.InspectResponse, network string) netip.Addr {
	if c.NetworkSettings == nil {
		return netip.Addr{}
	}
	if ep, ok := c.NetworkSettings.Networks[network]; ok && ep != nil {
		return ep.IPAddress
	}
	return netip.Addr{}
}

// Logs writes the last tail lines (all when tail < 0) of a container's
// output to w, following it when asked.
func (e *Engine) Logs(ctx context.Context, s *engine.Spec, n string, tail int, follow bool, w io.Writer) error {
	t := "all"
	if tail >= 0 {
		t = strconv.Itoa(tail)
	}
	rc, err := e.cli.ContainerLogs(ctx, name(s, n), client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: t, Follow: follow,
	})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

// Kill stops a container at once.
func (e *Engine) Kill(ctx context.Context, s *engine.Spec, n string) error {
	_, err := e.cli.ContainerKill(ctx, name(s, n), client.ContainerKillOptions{Signal: "KILL"})
	return err
}
