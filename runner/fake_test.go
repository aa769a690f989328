package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
)

// fakeEngine records what the runner asks of it. It is for the runner's
// logic only; engine/docker and the end-to-end tests use the real engine.
type fakeEngine struct {
	mu        sync.Mutex
	calls     []string
	images    map[string]engine.ImageInfo // present images
	pulls     map[string]int
	pullErr   error
	pullDelay time.Duration
	setupErr  error
	// exit maps a substring of a step's stdin to its exit code.
	exit map[string]int
	// listening says whether a service's ports answer.
	listening map[string]bool
	// exited marks services that die at start.
	exited   map[string]int
	dies     map[string]time.Time // services that stop at a time
	runDelay time.Duration
	// delay maps a substring of a step's stdin to how long it runs,
	// over runDelay.
	delay      map[string]time.Duration
	echoEnv    bool
	interleave string // a value to print split across stdout and stderr
	destroyed  map[string]bool
	running    int
	maxRunning int
	// files are every job's workspace at its end, for Export; inputs
	// are the Inputs of each job's Spec, by key.
	files  map[string]string
	inputs map[string][]string
}

func newFake() *fakeEngine {
	return &fakeEngine{
		images: map[string]engine.ImageInfo{}, pulls: map[string]int{}, exit: map[string]int{},
		listening: map[string]bool{}, exited: map[string]int{}, destroyed: map[string]bool{},
		delay: map[string]time.Duration{}, files: map[string]string{}, inputs: map[string][]string{},
	}
}

func (f *fakeEngine) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeEngine) Ping(context.Context) error { return nil }

func (f *fakeEngine) ImageInfo(_ context.Context, ref string) (engine.ImageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.images[ref]
	if !ok {
		return info, fmt.Errorf("%s: %w", ref, engine.ErrImageNotFound)
	}
	return info, nil
}

func (f *fakeEngine) PullImage(ctx context.Context, ref string, _ *engine.RegistryAuth, _ func(engine.PullEvent)) error {
	time.Sleep(f.pullDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls[ref]++
	if f.pullErr != nil {
		return f.pullErr
	}
	f.images[ref] = engine.ImageInfo{}
	return nil
}

func (f *fakeEngine) Setup(_ context.Context, s *engine.Spec) error {
	f.record("setup %s", s.Key)
	f.mu.Lock()
	f.inputs[s.Key] = s.Inputs
	f.mu.Unlock()
	return f.setupErr
}

func (f *fakeEngine) Run(ctx context.Context, s *engine.Spec, c *engine.Container, out, errOut io.Writer) (int, error) {
	f.record("run %s %s", s.Key, c.Name)
	f.mu.Lock()
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	defer f.record("exited %s %s", s.Key, c.Name)
	fmt.Fprintf(out, "output of %s\n", c.Name)
	if f.interleave != "" {
		// A secret split on stdout with the whole of it on stderr in
		// between, as the engine may deliver two pipes.
		half := len(f.interleave) / 2
		fmt.Fprint(out, "split "+f.interleave[:half])
		fmt.Fprintln(errOut, f.interleave)
		fmt.Fprintln(out, f.interleave[half:])
	}
	if f.echoEnv {
		// Written in two pieces, so a secret is split across writes.
		for _, e := range c.Env {
			fmt.Fprint(out, e[:len(e)/2])
			fmt.Fprintln(out, e[len(e)/2:])
		}
	}
	d := f.runDelay
	for sub, extra := range f.delay {
		if strings.Contains(string(c.Stdin), sub) {
			d = extra
		}
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	for sub, code := range f.exit {
		if strings.Contains(string(c.Stdin), sub) {
			return code, nil
		}
	}
	return 0, nil
}

func (f *fakeEngine) StartService(_ context.Context, s *engine.Spec, c *engine.Container) error {
	f.record("service %s %s", s.Key, c.Name)
	return nil
}

func (f *fakeEngine) Inspect(_ context.Context, _ *engine.Spec, name string) (engine.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, ok := f.exited[name]; ok {
		return engine.State{Running: false, ExitCode: code}, nil
	}
	if at, ok := f.dies[name]; ok && time.Now().After(at) {
		return engine.State{Running: false, ExitCode: 137, OOM: true}, nil
	}
	return engine.State{Running: true}, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func (f *fakeEngine) Dial(_ context.Context, _ *engine.Spec, name string, port int) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listening[name] {
		return nopCloser{}, nil
	}
	return nil, errors.New("connection refused")
}

func (f *fakeEngine) Logs(_ context.Context, _ *engine.Spec, name string, _ int, _ bool, w io.Writer) error {
	fmt.Fprintf(w, "log line of %s\n", name)
	return nil
}

func (f *fakeEngine) Kill(_ context.Context, _ *engine.Spec, name string) error {
	f.record("kill %s", name)
	return nil
}

func (f *fakeEngine) Destroy(_ context.Context, s *engine.Spec) error {
	f.record("destroy %s", s.Key)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed[s.Key] = true
	return nil
}

func (f *fakeEngine) Collect(context.Context) (int, error) { return 0, nil }

func (f *fakeEngine) Export(_ context.Context, s *engine.Spec) (io.ReadCloser, error) {
	f.record("export %s", s.Key)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range f.files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(content))
	}
	_ = tw.Close()
	return io.NopCloser(&buf), nil
}

func (f *fakeEngine) has(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c == call {
			return true
		}
	}
	return false
}
