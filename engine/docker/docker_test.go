package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// These tests drive the real Docker Engine with the locally built
// busybox:1.35 image (scripts/testimages.sh).
const busybox = "busybox:1.35"

func newEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImageInfo(ctx, busybox); err != nil {
		t.Fatalf("%v (run scripts/testimages.sh)", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newSpec(t *testing.T, e *Engine, network engine.Network) *engine.Spec {
	t.Helper()
	s := &engine.Spec{
		RunID: "test" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), Key: "j0",
		Owner: engine.Owner(), Network: network, WorkspacePath: "/work",
	}
	t.Cleanup(func() {
		if err := e.Destroy(context.Background(), s); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, e, s.RunID)
	})
	return s
}

// setUp is newSpec with the job's sandbox set up.
func setUp(t *testing.T, e *Engine, network engine.Network) *engine.Spec {
	t.Helper()
	s := newSpec(t, e, network)
	if err := e.Setup(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNothingLeft counts the engine's objects labelled with the run.
func assertNothingLeft(t *testing.T, e *Engine, run string) {
	t.Helper()
	ctx := context.Background()
	f := client.Filters{}.Add("label", engine.LabelRun+"="+run)
	c, _ := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	n, _ := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	v, _ := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if len(c.Items)+len(n.Items)+len(v.Items) != 0 {
		t.Errorf("run %s left %d containers, %d networks, %d volumes", run, len(c.Items), len(n.Items), len(v.Items))
	}
}

func TestRunStreamsOutputAndExitCode(t *testing.T) {
	e := newEngine(t)
	s := setUp(t, e, engine.NetworkNone)
	ctx := context.Background()
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{
		Name: "step-0", Image: busybox, Cmd: []string{"sh"},
		Stdin: []byte("echo out; echo err >&2; read x || echo eof; exit 3\n"),
	}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	// stdout and stderr are separate pipes: only the order within one
	// stream is defined.
	got := out.String()
	if !strings.Contains(got, "err\n") || strings.Replace(got, "err\n", "", 1) != "out\neof\n" {
		t.Errorf("output %q", got)
	}
}

func TestEntrypointCleared(t *testing.T) {
	e := newEngine(t)
	s := setUp(t, e, engine.NetworkNone)
	ctx := context.Background()
	// The sandbox image has an entrypoint (/pause): clearing it must make
	// the command run on its own. busybox has none, so use a step whose
	// entrypoint would break the command if it were kept.
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{
		Name: "step-0", Image: busybox, Entrypoint: []string{}, Cmd: []string{"echo", "cleared"},
	}, &out, &out)
	if err != nil || code != 0 || out.String() != "cleared\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
	out.Reset()
	code, err = e.Run(ctx, s, &engine.Container{
		Name: "step-1", Image: busybox, Entrypoint: []string{"echo", "entry"}, Cmd: []string{"cmd"},
	}, &out, &out)
	if err != nil || code != 0 || out.String() != "entry cmd\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

// engines runs test with a copied workspace and with a templated one.
func engines(t *testing.T, test func(t *testing.T, e *Engine)) {
	t.Run("copied", func(t *testing.T) { test(t, newEngine(t)) })
	t.Run("templated", func(t *testing.T) { test(t, templateEngine(t)) })
}

func TestWorkspaceIsACopy(t *testing.T) { engines(t, testWorkspaceIsACopy) }

func testWorkspaceIsACopy(t *testing.T, e *Engine) {
	s := newSpec(t, e, engine.NetworkNone)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s.WorkspaceDir = dir
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{
		Name: "step-0", Image: busybox, WorkingDir: "/work", Cmd: []string{"sh", "-c",
			"cat sub/f.txt; readlink link; echo changed > sub/f.txt; rm link"},
	}, &out, &out)
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
	if out.String() != "hello\nsub/f.txt\n" {
		t.Errorf("output %q", out.String())
	}
	// A second container of the job sees the first one's change...
	out.Reset()
	if _, err := e.Run(ctx, s, &engine.Container{Name: "step-1", Image: busybox, WorkingDir: "/work",
		Cmd: []string{"cat", "sub/f.txt"}}, &out, &out); err != nil || out.String() != "changed\n" {
		t.Errorf("second step saw %q, %v", out.String(), err)
	}
	// ...but the user's files are untouched.
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "f.txt")); string(b) != "hello\n" {
		t.Errorf("host file changed to %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "link")); err != nil {
		t.Errorf("host symlink removed: %v", err)
	}
}

func TestBridgeServiceByAliasAndDial(t *testing.T) {
	e := newEngine(t)
	s := setUp(t, e, engine.NetworkBridge)
	ctx := context.Background()
	svc := &engine.Container{Name: "svc-web", Image: busybox, Aliases: []string{"web", "web-2"},
		Cmd: []string{"sh", "-c", "echo hi > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"}}
	if err := e.StartService(ctx, s, svc); err != nil {
		t.Fatal(err)
	}
	waitDial(t, e, s, "svc-web", 8080)
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: busybox,
		Cmd: []string{"sh", "-c", "wget -qO- http://web:8080/ && wget -qO- http://web-2:8080/"}}, &out, &out)
	if err != nil || code != 0 || out.String() != "hi\nhi\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

func TestSharedNamespaceLocalhostAndName(t *testing.T) {
	e := newEngine(t)
	s := newSpec(t, e, engine.NetworkShared)
	s.Aliases = []string{"cache"}
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	svc := &engine.Container{Name: "svc-cache", Image: busybox,
		Cmd: []string{"sh", "-c", "echo hi > /tmp/index.html; exec httpd -f -p 6379 -h /tmp"}}
	if err := e.StartService(ctx, s, svc); err != nil {
		t.Fatal(err)
	}
	waitDial(t, e, s, "svc-cache", 6379)
	var out bytes.Buffer
	code, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: busybox,
		Cmd: []string{"sh", "-c", "wget -qO- http://127.0.0.1:6379/ && wget -qO- http://cache:6379/"}}, &out, &out)
	if err != nil || code != 0 || out.String() != "hi\nhi\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

func waitDial(t *testing.T, e *Engine, s *engine.Spec, name string, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := e.Dial(context.Background(), s, name, port)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%d never answered: %v", name, port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancelStopsTheContainer(t *testing.T) {
	e := newEngine(t)
	s := newSpec(t, e, engine.NetworkNone)
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	// Cancel once the shell has set its trap (it prints "started").
	out := &notifyWriter{want: "started", seen: make(chan struct{})}
	go func() { <-out.seen; cancel() }()
	// The shell traps TERM so the stop is graceful and observable.
	_, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: busybox, StopGrace: 5 * time.Second,
		Cmd: []string{"sh", "-c", "trap 'echo stopping; exit 0' TERM; echo started; while true; do sleep 0.1; done"}}, out, out)
	if err == nil {
		t.Fatal("Run returned no error after cancel")
	}
	if !strings.Contains(out.String(), "stopping") {
		t.Errorf("no graceful stop seen: %q", out.String())
	}
	st, err := e.Inspect(context.Background(), s, "step-0")
	if err != nil || st.Running {
		t.Errorf("still running: %+v %v", st, err)
	}
}

func TestCollectRemovesOnlyDeadOwners(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	dead := &engine.Spec{RunID: "testcollectdead", Key: "j0", Owner: host + ":999999999", WorkspacePath: "/w", Network: engine.NetworkBridge}
	live := newSpec(t, e, engine.NetworkBridge)
	// Bridge jobs: Setup makes their objects (a job without services gets
	// its workspace volume only with its first container).
	other := &engine.Spec{RunID: "testcollectother", Key: "j0", Owner: "another-host:1", WorkspacePath: "/w", Network: engine.NetworkBridge}
	t.Cleanup(func() { _ = e.Destroy(ctx, other); assertNothingLeft(t, e, other.RunID) })
	for _, s := range []*engine.Spec{dead, live, other} {
		if err := e.Setup(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, dead.RunID)
	for _, s := range []*engine.Spec{live, other} {
		if _, err := e.cli.VolumeInspect(ctx, name(s, "ws"), client.VolumeInspectOptions{}); err != nil {
			t.Errorf("Collect removed run %s: %v", s.RunID, err)
		}
	}
}

// notifyWriter closes seen when the output first contains want.
type notifyWriter struct {
	bytes.Buffer
	want string
	seen chan struct{}
	done bool
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.done && strings.Contains(w.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return n, err
}

func TestNamedVolumeIsPerJobAndRemoved(t *testing.T) {
	e := newEngine(t)
	s := setUp(t, e, engine.NetworkNone)
	ctx := context.Background()
	vol := []engine.Mount{{Source: "cache", Target: "/cache"}}
	var out bytes.Buffer
	for i, cmd := range []string{"echo kept > /cache/f", "cat /cache/f"} {
		code, err := e.Run(ctx, s, &engine.Container{Name: fmt.Sprintf("step-%d", i), Image: busybox,
			Mounts: vol, Cmd: []string{"sh", "-c", cmd}}, &out, &out)
		if err != nil || code != 0 {
			t.Fatalf("%s: %d %v", cmd, code, err)
		}
	}
	if out.String() != "kept\n" {
		t.Errorf("the job's steps do not share the volume: %q", out.String())
	}
	// The volume carries the job's labels, so Destroy (in Cleanup) removes it
	// and assertNothingLeft counts it.
	res, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelRun+"="+s.RunID)})
	if err != nil || len(res.Items) != 2 {
		t.Errorf("want the workspace and the named volume labelled, got %d (%v)", len(res.Items), err)
	}
}

// Privileged containers cannot start on the test machines (runc lacks a
// capability there), so this checks that the setting reaches the engine.
func TestPrivilegedReachesTheEngine(t *testing.T) {
	e := newEngine(t)
	s := setUp(t, e, engine.NetworkNone)
	ctx := context.Background()
	if err := e.create(ctx, s, &engine.Container{Name: "step-0", Image: busybox, Privileged: true}, "step"); err != nil {
		t.Fatal(err)
	}
	res, err := e.cli.ContainerInspect(ctx, name(s, "step-0"), client.ContainerInspectOptions{})
	if err != nil || !res.Container.HostConfig.Privileged {
		t.Errorf("privileged not set: %v", err)
	}
}

// TestUserTmpfsAndResolver: a container runs as its user, with a tmpfs of
// its own and its resolver settings; in a shared namespace the sandbox
// carries the settings of every container.
func TestUserTmpfsAndResolver(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	script := "id -u; id -g; grep -c ' /scratch tmpfs ' /proc/mounts; grep -c '192.0.2.53' /etc/resolv.conf; " +
		"grep -c 'search example.test' /etc/resolv.conf; grep -c '10.9.8.7[[:space:]]*registry.test' /etc/hosts"
	step := func() *engine.Container {
		return &engine.Container{Name: "step-0", Image: busybox, User: "1234:4321", Cmd: []string{"sh", "-c", script},
			Mounts:   []engine.Mount{{Source: "scratch", Target: "/scratch", Tmpfs: true}},
			Resolver: engine.Resolver{DNS: []string{"192.0.2.53"}, DNSSearch: []string{"example.test"}, ExtraHosts: []string{"registry.test:10.9.8.7"}}}
	}
	for _, network := range []engine.Network{engine.NetworkNone, engine.NetworkShared} {
		s := newSpec(t, e, network)
		s.RunID += fmt.Sprint(network)
		s.Steps = []*engine.Container{step()}
		if err := e.Setup(ctx, s); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := e.Run(ctx, s, s.Steps[0], &out, &out)
		// On a user-defined network Docker's own resolver (127.0.0.11)
		// forwards to the servers: resolv.conf does not name them.
		want := "1234\n4321\n1\n1\n1\n1\n"
		if network == engine.NetworkShared {
			want = "1234\n4321\n1\n0\n1\n1\n"
			res, ierr := e.cli.ContainerInspect(ctx, name(s, "sandbox"), client.ContainerInspectOptions{})
			if ierr != nil || fmt.Sprint(res.Container.HostConfig.DNS) != "[192.0.2.53]" {
				t.Errorf("sandbox DNS: %v %v", ierr, res.Container.HostConfig)
			}
		}
		if err != nil || code != 0 || out.String() != want {
			t.Errorf("network %v: code %d err %v out %q", network, code, err, out.String())
		}
	}
}

// TestWorkspaceBelowTheVolume: the volume is mounted at WorkspacePath (a
// GOPATH), the checkout goes into WorkspaceSub below it, and what a step
// writes elsewhere in the volume is there for the next step.
func TestWorkspaceBelowTheVolume(t *testing.T) { engines(t, testWorkspaceBelowTheVolume) }

func testWorkspaceBelowTheVolume(t *testing.T, e *Engine) {
	for _, network := range []engine.Network{engine.NetworkNone, engine.NetworkShared} {
		s := newSpec(t, e, network)
		s.RunID += fmt.Sprint(network)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.WorkspaceDir, s.WorkspacePath, s.WorkspaceSub = dir, "/go", "src/example.com/app"
		ctx := context.Background()
		if err := e.Setup(ctx, s); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := e.Run(ctx, s, &engine.Container{Name: "step-0", Image: busybox, WorkingDir: "/go/src/example.com/app",
			Cmd: []string{"sh", "-c", "cat main.go && mkdir -p /go/bin && echo built > /go/bin/app"}}, &out, &out)
		if err != nil || code != 0 || out.String() != "package main\n" {
			t.Fatalf("network %v: code %d err %v out %q", network, code, err, out.String())
		}
		out.Reset()
		code, err = e.Run(ctx, s, &engine.Container{Name: "step-1", Image: busybox, Cmd: []string{"cat", "/go/bin/app"}}, &out, &out)
		if err != nil || code != 0 || out.String() != "built\n" {
			t.Errorf("network %v: second step: code %d err %v out %q", network, code, err, out.String())
		}
	}
}
