// Package bench holds slipway's benchmarks. bench/run.sh measures the
// slipway binary against plain docker commands (bench/README.md lists the figures);
// the Go benchmarks here drive the runner package in-process on the real
// Docker Engine, for profiling:
//
//	go test ./bench -run '^$' -bench OneStepJob -benchtime 20x -cpuprofile cpu.out
//	go test ./bench -run '^$' -bench Output50MB -benchtime 3x -cpuprofile cpu.out -memprofile mem.out
//	BENCH_TRACE=1 go test ./bench -run '^$' -bench OneStepJob -benchtime 3x -v
//
// BENCH_TRACE=1 puts a logging proxy between the runner and the Docker
// Engine and prints, for the last job, every API call with its start
// offset and duration: where a job's wall time goes.
//
// Benchmarks are not tests: nothing here asserts a duration, and `go test
// ./...` only compiles this package (it has no Test functions).
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/bench/internal/apitrace"
	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
	"github.com/slipway-ci/slipway/plan"
	"github.com/slipway-ci/slipway/runner"
)

const busybox = "busybox:1.35"

// outputLine is the 64-byte line (63 characters and a newline) the big
// output benchmark prints over and over; 50 MiB is a whole number of them.
const outputLine = "slipway-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"

// bigCommand prints size bytes of outputLine lines.
func bigCommand(size int) string {
	// GitLab scripts run with pipefail, and yes dies of SIGPIPE.
	return fmt.Sprintf("{ yes %s || true; } | head -c %d", outputLine, size)
}

// expected is the sha256 of what bigCommand(size) prints.
func expected(size int) string {
	line := []byte(outputLine + "\n")
	h := sha256.New()
	for n := size; n > 0; n -= len(line) {
		h.Write(line[:min(n, len(line))])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// setup loads a one-job GitLab pipeline from yaml in a fresh workspace and
// returns a runner for it (traced when BENCH_TRACE is set).
func setup(b *testing.B, yaml string, out io.Writer) (*runner.Runner, func() error, *apitrace.Tracer) {
	b.Helper()
	var tr *apitrace.Tracer
	if os.Getenv("BENCH_TRACE") != "" {
		var err error
		if tr, err = apitrace.Start(b.TempDir()); err != nil {
			b.Fatal(err)
		}
		b.Setenv("DOCKER_HOST", "unix://"+tr.Sock)
		b.Cleanup(tr.Close)
	}
	eng, err := docker.New()
	if err != nil {
		b.Fatal(err)
	}
	eng.Templates = true // as exec
	b.Cleanup(func() { eng.Close() })
	ctx := context.Background()
	if err := eng.Ping(ctx); err != nil {
		b.Skip(err)
	}
	if _, err := eng.ImageInfo(ctx, busybox); err != nil {
		b.Skipf("%v (run scripts/testimages.sh)", err)
	}
	dir := filepath.Join(b.TempDir(), "bench", "project")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeTemplate(b, eng, dir) })
	file := filepath.Join(dir, ".gitlab-ci.yml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	r := &runner.Runner{
		Engine: eng, Owner: engine.Owner(), Concurrency: 1, StopGrace: 10 * time.Second,
	}
	run := func() error {
		p, _, err := dialect.Load(file, dialect.Options{ProjectPath: "bench/project"})
		if err != nil {
			return err
		}
		pl, _, err := plan.Prepare(p, config.Runner{}, plan.Options{})
		if err != nil {
			return err
		}
		if tr != nil {
			tr.Reset()
		}
		o := runner.Options{ID: runID(), Workspace: dir, Events: runner.NewPrinter(out)}
		if res := r.Run(ctx, pl, o); res.Failed() {
			return fmt.Errorf("run failed: %+v", res.Jobs)
		}
		return nil
	}
	return r, run, tr
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "bench" + hex.EncodeToString(b)
}

// BenchmarkOneStepJob is figure 1 in-process: one `echo hello` job in
// busybox, no services. ns/op is one whole job: pull check, sandbox,
// step container, cleanup.
func BenchmarkOneStepJob(b *testing.B) {
	var out bytes.Buffer
	_, run, tr := setup(b, "hello:\n  image: "+busybox+"\n  script:\n    - echo hello\n", &out)
	if err := run(); err != nil { // warm up: the sandbox image, connections
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !strings.Contains(out.String(), "\nhello\n") {
		b.Fatalf("output %q", out.String())
	}
	if tr != nil {
		b.Log("API calls of the last job:\n" + tr.Report())
	}
}

// BenchmarkThreeServices is figure 3 in-process: a job with three
// services that listen 1.5 s after they start (the image bench/run.sh
// builds), its script reaching each of them. With BENCH_TRACE the report
// shows the health checks' API calls.
func BenchmarkThreeServices(b *testing.B) {
	const slow = "slipway-bench/slow-service:1"
	var out bytes.Buffer
	yaml := "svc:\n  image: " + busybox + "\n  services:\n"
	for _, a := range []string{"svc1", "svc2", "svc3"} {
		yaml += "    - name: " + slow + "\n      alias: " + a + "\n"
	}
	yaml += "  script:\n    - wget -qO- http://svc1:8080/ http://svc2:8080/ http://svc3:8080/\n"
	r, run, tr := setup(b, yaml, &out)
	if _, err := r.Engine.ImageInfo(context.Background(), slow); err != nil {
		b.Skipf("%v (bench/run.sh --only 3 builds it)", err)
	}
	for b.Loop() {
		out.Reset()
		if err := run(); err != nil {
			b.Fatal(err)
		}
		if n := countLines(out.String(), "ok"); n != 3 || strings.Contains(out.String(), "WARNING") {
			b.Fatalf("output %q", out.String())
		}
	}
	if tr != nil {
		b.Log("API calls of the last job:\n" + tr.Report())
	}
}

func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// BenchmarkOutput50MB is figure 2 in-process: a step printing 50 MiB,
// every byte checked (sha256 of what lies between the job's `$ cmd` echo
// and its status line). SetBytes makes the MB/s column the throughput.
func BenchmarkOutput50MB(b *testing.B) {
	size := 50 << 20
	if testing.Short() {
		size = 5 << 20
	}
	cmd := bigCommand(size)
	want := expected(size)
	out := &between{start: []byte("$ " + cmd + "\n"), end: []byte("Job \"big\" passed")}
	_, run, tr := setup(b, "big:\n  image: "+busybox+"\n  script:\n    - '"+cmd+"'\n", out)
	b.SetBytes(int64(size))
	for b.Loop() {
		out.reset()
		if err := run(); err != nil {
			b.Fatal(err)
		}
		if got := out.sum(); got != want {
			b.Fatalf("output differs: sha256 %s, want %s (%d bytes captured, want %d)", got, want, out.n, size)
		}
	}
	if tr != nil {
		b.Log("API calls of the last job:\n" + tr.Report())
	}
}

// between hashes what is written between the first line equal to start
// and the first line beginning with end, without keeping it.
type between struct {
	start, end []byte
	h          hash.Hash
	n          int
	in, done   bool
	mid        bool   // inside a line already known not to be the end marker
	line       []byte // the start of the current line, while undecided
}

func (w *between) reset() {
	w.h, w.n, w.in, w.done, w.mid, w.line = sha256.New(), 0, false, false, false, w.line[:0]
}

func (w *between) sum() string { return hex.EncodeToString(w.h.Sum(nil)) }

func (w *between) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		p = p[len(chunk):]
		eol := i >= 0
		switch {
		case !w.in:
			w.line = append(w.line, chunk...)
			if eol {
				w.in = bytes.Equal(w.line, w.start)
				w.line = w.line[:0]
			}
		case w.mid:
			w.h.Write(chunk)
			w.n += len(chunk)
			w.mid = !eol
		default:
			w.line = append(w.line, chunk...)
			if bytes.HasPrefix(w.line, w.end) {
				w.done = true
			} else if eol || !bytes.HasPrefix(w.end, w.line) {
				w.h.Write(w.line)
				w.n += len(w.line)
				w.line = w.line[:0]
				w.mid = !eol
			}
		}
	}
	return n, nil
}

// removeTemplate removes the workspace template exec made of dir.
func removeTemplate(b *testing.B, eng *docker.Engine, dir string) {
	ctx := context.Background()
	caches, err := eng.ListCaches(ctx)
	if err != nil {
		b.Error(err)
		return
	}
	for _, c := range caches {
		if c.Project == docker.TemplateProject && c.Key == dir {
			if err := eng.RemoveCache(ctx, c.ID); err != nil {
				b.Error(err)
			}
		}
	}
}
