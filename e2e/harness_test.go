// Package e2e runs the real slipway binary on real pipeline files against
// the real Docker Engine, with the images scripts/testimages.sh builds.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
)

var slipway string // path of the built binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-e2e")
	if err != nil {
		panic(err)
	}
	slipway = filepath.Join(dir, "slipway")
	build := exec.Command("go", "build", "-o", slipway, "../cmd/slipway")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build slipway: %v\n%s", err, out)
		os.Exit(2)
	}
	if err := buildTestImages(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if err := removeTemplates(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// removeTemplates removes the workspace templates that exec made of the
// tests' checkouts (temporary directories, gone by now): a template is a
// cache that outlives its run, and these will never be used again.
func removeTemplates() error {
	e, err := docker.New()
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	caches, err := e.ListCaches(ctx)
	if err != nil {
		return err
	}
	for _, c := range caches {
		if c.Project != docker.TemplateProject || !strings.HasPrefix(c.Key, os.TempDir()) {
			continue
		}
		if _, err := os.Stat(c.Key); err == nil {
			continue // another package's test, still running
		}
		if err := e.RemoveCache(ctx, c.ID); err != nil && !strings.Contains(err.Error(), "in use") {
			return err
		}
	}
	return nil
}

// result is one finished slipway process.
type result struct {
	code   int
	stdout string
	stderr string
	owner  string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// project is a temporary checkout holding a pipeline file.
type project struct {
	t    *testing.T
	dir  string
	file string
}

// newProject writes name (".gitlab-ci.yml" or ".drone.yml") with content
// into group/project under a temp dir, plus any extra files.
func newProject(t *testing.T, name, content string, files ...string) *project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "group", "project")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &project{t: t, dir: dir, file: filepath.Join(dir, name)}
	p.write(name, content)
	for i := 0; i+1 < len(files); i += 2 {
		p.write(files[i], files[i+1])
	}
	return p
}

func (p *project) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// run runs slipway with args in the project dir and checks that the
// process left no container, network or volume behind.
func (p *project) run(args ...string) result {
	p.t.Helper()
	r := p.start(args...).wait()
	assertNothingLeft(p.t, r.owner)
	return r
}

// proc is a running slipway process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
}

func (p *project) start(args ...string) *proc {
	p.t.Helper()
	return p.startEnv(nil, args...)
}

// startEnv starts slipway with extra environment variables.
func (p *project) startEnv(env []string, args ...string) *proc {
	p.t.Helper()
	cmd := exec.Command(slipway, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), env...)
	pr := &proc{t: p.t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = pr.stdout, pr.stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	return pr
}

func (pr *proc) wait() result {
	pr.t.Helper()
	// Read before Wait: until the process is reaped its /proc entry stays.
	owner := engine.OwnerOf(pr.cmd.Process.Pid)
	err := pr.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		pr.t.Fatal(err)
	}
	return result{code: code, stdout: pr.stdout.String(), stderr: pr.stderr.String(), owner: owner}
}

// waitWithin is wait, failing the test (and killing the process) when it
// has not ended within d.
func (pr *proc) waitWithin(d time.Duration) result {
	pr.t.Helper()
	timer := time.AfterFunc(d, func() { _ = pr.cmd.Process.Kill() })
	defer timer.Stop()
	start := time.Now()
	r := pr.wait()
	if time.Since(start) >= d {
		pr.t.Fatalf("slipway did not end within %s\n%s", d, r)
	}
	return r
}

func (pr *proc) signal(s syscall.Signal) {
	if err := pr.cmd.Process.Signal(s); err != nil {
		pr.t.Fatal(err)
	}
}

// waitFor blocks until stdout contains s.
func (pr *proc) waitFor(s string, timeout time.Duration) {
	pr.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(pr.stdout.String(), s) {
		if time.Now().After(deadline) {
			pr.t.Fatalf("no %q in output within %s:\n%s\n%s", s, timeout, pr.stdout.String(), pr.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// labelled counts the engine's objects carrying label (key=value).
func labelled(t *testing.T, label string) (containers, networks, volumes int) {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	f := client.Filters{}.Add("label", label)
	c, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	n, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(c.Items), len(n.Items), len(v.Items)
}

// assertNothingLeft requires zero objects made by the slipway process
// owner (see engine.Owner).
func assertNothingLeft(t *testing.T, owner string) {
	t.Helper()
	c, n, v := labelled(t, "slipway.owner="+owner)
	if c+n+v != 0 {
		t.Errorf("slipway process %s left %d containers, %d networks, %d volumes", owner, c, n, v)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustContain(t *testing.T, r result, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output lacks %q\n%s", s, r)
		}
	}
}

func mustNotContain(t *testing.T, r result, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output has %q\n%s", s, r)
		}
	}
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\n%s", r.code, code, r)
	}
}

// failingEntrypointImage has an entrypoint that fails whatever it runs.
const failingEntrypointImage = "slipway-test/failing-entrypoint:1"

// privilegedPluginImage has the name of a plugin Drone runs privileged.
const privilegedPluginImage = "plugins/docker:slipway-test"

// buildTestImages builds the images only these tests use, from the local
// busybox image (no registry involved).
func buildTestImages() error {
	dir, err := os.MkdirTemp("", "slipway-e2e-img")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for tag, df := range map[string]string{
		failingEntrypointImage: "FROM busybox:1.35\nENTRYPOINT [\"/bin/false\"]\n",
		// An image without /tmp, as some minimal images are.
		noTmpImage: "FROM busybox:1.35\nRUN rmdir /tmp\n",
		// Exposes a port it never listens on, and says so in its log.
		deafServiceImage: "FROM busybox:1.35\nEXPOSE 9999\nCMD [\"sh\", \"-c\", \"echo not listening on 9999; exec sleep 600\"]\n",
		// The documentation's super/sql: a database that starts only when
		// told to (command: ["/usr/bin/super-sql", "run"]) ...
		"super/sql:latest": superSQL + "EXPOSE 5000\nCMD [\"sleep\", \"600\"]\n",
		// ... and one whose entrypoint starts it (entrypoint: [""] clears).
		"super/sql:experimental": superSQL + "ENTRYPOINT [\"/usr/bin/super-sql\", \"run\"]\n",
		// Named as Drone's Docker-in-Docker plugin, which Drone runs
		// privileged: it prints its effective capabilities.
		privilegedPluginImage: "FROM busybox:1.35\nCMD [\"grep\", \"CapEff\", \"/proc/self/status\"]\n",
		// For the default-alias rules of the documentation's example.
		"tutum/wordpress:latest": "FROM busybox:1.35\nEXPOSE 80\nCMD [\"sh\", \"-c\", \"echo wordpress > /tmp/index.html; exec httpd -f -p 80 -h /tmp\"]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			return err
		}
		super := "#!/bin/sh\n[ \"$1\" = run ] || { echo usage: super-sql run; exit 2; }\necho \"super-sql ${SUPER_SQL_DB:-nodb}\" > /tmp/index.html\nexec httpd -f -p 5000 -h /tmp\n"
		if err := os.WriteFile(filepath.Join(dir, "super-sql"), []byte(super), 0o755); err != nil {
			return err
		}
		out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("build %s: %v\n%s", tag, err, out)
		}
	}
	return nil
}

// noTmpImage has no /tmp.
const noTmpImage = "slipway-test/no-tmp:1"

// superSQL installs /usr/bin/super-sql, which serves "super-sql $SUPER_SQL_DB"
// over HTTP on port 5000 when run with "run".
const superSQL = "FROM busybox:1.35\nCOPY super-sql /usr/bin/super-sql\n"

// deafServiceImage exposes port 9999 but never listens on it.
const deafServiceImage = "slipway-test/deaf-service:1"
