// Command serverbench measures slipway's server and runner against
// `slipway exec` of the same job on the same machine, in the same run,
// the repetitions interleaved (baseline, server, server, baseline, ...):
//
//		go run ./bench/cmd/serverbench [-short] [-slipway PATH] [-reps N]
//
//	 1. push to job start: `git push` to the server → the job's first
//	    container started (Docker's start event), with a runner already
//	    waiting on jobs/request; against `slipway exec` start → its first
//	    container started. The difference is what the server adds (goal of
//	    issue 11: ≤ 0.5 s).
//	 2. a 50 MiB job log (819 200 lines of 64 bytes): push → build finished
//	    and the whole log stored, against `slipway exec` with its output to
//	    a file (goal ≤ 1.2×). Every stored line is checked. The runner's
//	    peak RSS (VmHWM) is printed: it streams the log through a spool
//	    file, so it must not grow with the log.
//
// It starts `slipway server` on a temporary data directory and one
// `slipway runner run`, both as processes, and leaves nothing behind:
// every container is slipway's (labelled slipway.run) and removed by it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
)

func main() {
	short := flag.Bool("short", false, "CI mode: 2 repetitions, a 5 MiB log; proves the benchmark works")
	bin := flag.String("slipway", "", "slipway binary (default: build ./cmd/slipway)")
	reps := flag.Int("reps", 10, "repetitions of the push-to-start measurement")
	flag.Parse()
	big, bigReps := 50<<20, 3
	if *short {
		*reps, big, bigReps = 2, 5<<20, 1
	}
	if err := run(*bin, *reps, big, bigReps); err != nil {
		fmt.Fprintln(os.Stderr, "serverbench:", err)
		os.Exit(1)
	}
}

// env is a server with a repository and a runner, a local clone to push
// from, a directory for exec, and Docker's container start events.
type env struct {
	work, slipway, url, addr, admin string
	server, runner                  *exec.Cmd
	runnerOwner                     string
	starts                          *startEvents
	pushes                          int
	pushTook                        []time.Duration // until git push returned
	// serverPeak is the server's VmHWM when the first big log was stored,
	// before anything read it back.
	serverPeak int64
}

func run(bin string, reps, big, bigReps int) error {
	work, err := os.MkdirTemp("", "serverbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "slipway")
		build := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
		build.Env, build.Stderr = append(os.Environ(), "CGO_ENABLED=0"), os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build slipway: %w", err)
		}
	}
	e := &env{work: work, slipway: bin}
	defer removeTemplates(work)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if e.starts, err = watchStarts(ctx); err != nil {
		return err
	}
	if err := e.start(); err != nil {
		e.stop()
		return err
	}
	defer e.stop()

	fmt.Fprintf(os.Stderr, "serverbench: push to job start, %d repetitions\n", reps)
	viaServer, viaExec, err := interleave(reps, e.pushToStart, e.execToStart)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "serverbench: a %d MiB log, %d repetitions\n", big>>20, bigReps)
	bigServer, bigExec, err := interleave(bigReps,
		func() (time.Duration, error) { return e.bigViaServer(big) },
		func() (time.Duration, error) { return e.bigViaExec(big) })
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "serverbench: 10 jobs in 3 stages, %d repetitions\n", bigReps)
	stagesServer, stagesExec, err := interleave(bigReps, e.stagesViaServer, e.stagesViaExec)
	if err != nil {
		return err
	}
	runnerPeak, err := peakRSS(e.runner.Process.Pid)
	if err != nil {
		return err
	}
	serverPeak, _ := peakRSS(e.server.Process.Pid)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	ps, pe := median(viaServer), median(viaExec)
	fmt.Fprintf(w, "push to job start (median of %d)\t\t\n", reps)
	fmt.Fprintf(w, "  baseline: slipway exec start → container start\t%s\t\n", ms(pe))
	fmt.Fprintf(w, "  git push → container start (server + runner)\t%s\t%.2fx baseline, +%s (goal ≤ +500 ms)\n", ms(ps), ratio(ps, pe), ms(ps-pe))
	fmt.Fprintf(w, "    of which git push, until it returned\t%s\t\n", ms(median(e.pushTook[:reps])))
	bs, be := median(bigServer), median(bigExec)
	fmt.Fprintf(w, "%d MiB job log (median of %d)\t\t\n", big>>20, bigReps)
	fmt.Fprintf(w, "  baseline: slipway exec, output to a file\t%s\t\n", ms(be))
	fmt.Fprintf(w, "  git push → build finished, log stored\t%s\t%.2fx baseline (goal ≤ 1.2x)\n", ms(bs), ratio(bs, be))
	fmt.Fprintf(w, "  the job's own time, as slipway exec says it (last)\t%s\t\n", strings.TrimPrefix(lastPassed["slipway exec's output"], `Job "big" `))
	fmt.Fprintf(w, "  the job's own time, as the runner says it (last)\t%s\t\n", strings.TrimPrefix(lastPassed["the stored log"], `Job "big" `))
	ss, se := median(stagesServer), median(stagesExec)
	fmt.Fprintf(w, "10 jobs in 3 stages (4, 3, 3), %d at once (median of %d)\t\t\n", stageConcurrency, bigReps)
	fmt.Fprintf(w, "  baseline: slipway exec --concurrency %d, start to exit\t%s\t\n", stageConcurrency, ms(se))
	fmt.Fprintf(w, "  git push → build finished (runner concurrent = %d)\t%s\t%.2fx baseline\n", stageConcurrency, ms(ss), ratio(ss, se))
	fmt.Fprintf(w, "runner peak RSS (VmHWM, whole run)\t%d MiB\t\n", runnerPeak>>20)
	fmt.Fprintf(w, "server peak RSS (VmHWM), the first big log stored\t%d MiB\t\n", e.serverPeak>>20)
	fmt.Fprintf(w, "server peak RSS (VmHWM, whole run: reading the logs back too)\t%d MiB\t\n", serverPeak>>20)
	return w.Flush()
}

// interleave measures server and exec reps times each, alternating which
// goes first (see order).
func interleave(reps int, server, exec func() (time.Duration, error)) (viaServer, viaExec []time.Duration, err error) {
	for i := range reps {
		for _, srv := range order(i) {
			var d time.Duration
			if srv {
				d, err = server()
				viaServer = append(viaServer, d)
			} else {
				d, err = exec()
				viaExec = append(viaExec, d)
			}
			if err != nil {
				return nil, nil, err
			}
		}
	}
	return viaServer, viaExec, nil
}

// removeTemplates removes the workspace templates that exec and the
// runner made of checkouts below work (a template is a cache that
// outlives its run; these checkouts go with the work directory).
func removeTemplates(work string) {
	eng, err := docker.New()
	if err != nil {
		return
	}
	defer eng.Close()
	_, _ = eng.RemoveTemplatesUnder(context.Background(), work)
}

// order interleaves: baseline first on even repetitions, second on odd.
func order(i int) []bool {
	if i%2 == 0 {
		return []bool{false, true}
	}
	return []bool{true, false}
}

// start runs the server and a registered runner, and makes the
// repository and the clone to push from.
func (e *env) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.addr = ln.Addr().String()
	ln.Close()
	e.url = "http://" + e.addr
	data := filepath.Join(e.work, "data")
	e.server = exec.Command(e.slipway, "server", "--data-dir", data, "--addr", e.addr)
	logs := &lockedBuffer{}
	e.server.Stderr = logs
	if err := e.server.Start(); err != nil {
		return err
	}
	if err := waitFor(20*time.Second, func() bool { return strings.Contains(logs.String(), "listening on") }); err != nil {
		return fmt.Errorf("the server did not listen: %s", logs.String())
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return err
	}
	e.admin = strings.TrimSpace(string(tok))
	glrt, err := exec.Command(e.slipway, "runner", "token", "create", "--server", e.url, "--token", e.admin, "--run-untagged").Output()
	if err != nil {
		return fmt.Errorf("runner token create: %w", err)
	}
	cfg := filepath.Join(e.work, "runner.toml")
	if out, err := exec.Command(e.slipway, "runner", "register", "--url", e.url, "--token", strings.TrimSpace(string(glrt)),
		"--executor", "docker", "--config", cfg).CombinedOutput(); err != nil {
		return fmt.Errorf("runner register: %v: %s", err, out)
	}
	if err := setConcurrent(cfg, stageConcurrency); err != nil {
		return err
	}
	e.runner = exec.Command(e.slipway, "runner", "run", "--config", cfg)
	// Its checkouts in the work directory: their templates go with it.
	e.runner.Env = append(os.Environ(), "TMPDIR="+e.work)
	e.runner.Stderr = io.Discard
	if err := e.runner.Start(); err != nil {
		return err
	}
	e.runnerOwner = engine.OwnerOf(e.runner.Process.Pid)
	if err := e.api("POST", "/api/repos/bench/server", nil); err != nil {
		return err
	}
	clone := filepath.Join(e.work, "clone")
	if err := os.MkdirAll(clone, 0o755); err != nil {
		return err
	}
	if err := git(clone, "init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	time.Sleep(time.Second) // the runner's first jobs/request is waiting
	return nil
}

func (e *env) stop() {
	for _, c := range []*exec.Cmd{e.runner, e.server} {
		if c != nil && c.Process != nil {
			_ = c.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = c.Process.Kill()
			}
		}
	}
}

func git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", args[0], err, out)
	}
	return nil
}

func (e *env) api(method, path string, out any) error {
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// push commits the pipeline file and pushes it: a new build. It returns
// when git started and the build's number.
func (e *env) push(yml string) (time.Time, int, error) {
	clone := filepath.Join(e.work, "clone")
	e.pushes++
	if err := os.WriteFile(filepath.Join(clone, ".gitlab-ci.yml"), []byte(yml), 0o644); err != nil {
		return time.Time{}, 0, err
	}
	if err := os.WriteFile(filepath.Join(clone, "n"), []byte(strconv.Itoa(e.pushes)), 0o644); err != nil {
		return time.Time{}, 0, err
	}
	if err := git(clone, "add", "."); err != nil {
		return time.Time{}, 0, err
	}
	if err := git(clone, "commit", "--quiet", "-m", "bench "+strconv.Itoa(e.pushes)); err != nil {
		return time.Time{}, 0, err
	}
	start := time.Now()
	err := git(clone, "push", "--quiet", "http://x:"+e.admin+"@"+e.addr+"/bench/server.git", "main")
	e.pushTook = append(e.pushTook, time.Since(start))
	return start, e.pushes, err
}

// waitBuild waits for build n to end, successfully.
func (e *env) waitBuild(n int, within time.Duration) (time.Time, error) {
	var status string
	err := waitFor(within, func() bool {
		var b struct{ Status string }
		if e.api("GET", "/api/repos/bench/server/builds/"+strconv.Itoa(n), &b) != nil {
			return false
		}
		status = b.Status
		return status != "pending" && status != "running"
	})
	end := time.Now()
	if err == nil && status != "success" {
		err = fmt.Errorf("build %d ended %s", n, status)
	}
	return end, err
}

const echoJob = `job:
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script: [echo hello]
`

func (e *env) pushToStart() (time.Duration, error) {
	e.starts.reset()
	start, n, err := e.push(echoJob)
	if err != nil {
		return 0, err
	}
	started, err := e.starts.first(e.runnerOwner, start, time.Minute)
	if err != nil {
		return 0, err
	}
	if _, err := e.waitBuild(n, 2*time.Minute); err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond) // the runner is waiting again
	return started.Sub(start), nil
}

// stageConcurrency is the jobs run at once in the pipeline figure, by
// exec and by the runner.
const stageConcurrency = 4

// setConcurrent sets the runner configuration's `concurrent`.
func setConcurrent(cfg string, n int) error {
	b, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^concurrent = \d+$`)
	if !re.Match(b) {
		return fmt.Errorf("%s has no concurrent = line:\n%s", cfg, b)
	}
	return os.WriteFile(cfg, re.ReplaceAll(b, []byte("concurrent = "+strconv.Itoa(n))), 0o600)
}

// stagesJob is 10 jobs in 3 stages, as bench/run.sh's figure 7.
func stagesJob() string {
	var b strings.Builder
	b.WriteString("stages: [one, two, three]\n")
	n := 0
	for k, stage := range []string{"one", "two", "three"} {
		for range []int{4, 3, 3}[k] {
			n++
			fmt.Fprintf(&b, "%s%d:\n  stage: %s\n  image: {name: \"busybox:1.35\", pull_policy: if-not-present}\n  script: [echo job %d]\n", stage, n, stage, n)
		}
	}
	return b.String()
}

func (e *env) stagesViaExec() (time.Duration, error) {
	var out lockedBuffer
	cmd, start, err := e.exec(stagesJob(), &out, "--concurrency", strconv.Itoa(stageConcurrency))
	if err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("slipway exec of the pipeline: %w\n%s", err, out.String())
	}
	d := time.Since(start)
	if n := strings.Count(out.String(), " passed in "); n != 10 {
		return 0, fmt.Errorf("slipway exec of the pipeline: %d jobs passed, want 10:\n%s", n, out.String())
	}
	return d, nil
}

func (e *env) stagesViaServer() (time.Duration, error) {
	start, n, err := e.push(stagesJob())
	if err != nil {
		return 0, err
	}
	end, err := e.waitBuild(n, 5*time.Minute)
	time.Sleep(500 * time.Millisecond) // the runner is waiting again
	return end.Sub(start), err
}

// exec starts `slipway exec` of yml in a fresh project, stdout to out.
func (e *env) exec(yml string, out io.Writer, args ...string) (*exec.Cmd, time.Time, error) {
	dir, err := os.MkdirTemp(e.work, "exec")
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-ci.yml"), []byte(yml), 0o644); err != nil {
		return nil, time.Time{}, err
	}
	cmd := exec.Command(e.slipway, append([]string{"exec"}, args...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, io.Discard
	start := time.Now()
	return cmd, start, cmd.Start()
}

func (e *env) execToStart() (time.Duration, error) {
	e.starts.reset()
	cmd, start, err := e.exec(echoJob, io.Discard)
	if err != nil {
		return 0, err
	}
	owner := engine.OwnerOf(cmd.Process.Pid)
	started, err := e.starts.first(owner, start, time.Minute)
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("slipway exec: %w", werr)
	}
	return started.Sub(start), err
}

// line is each line of the big log: 63 bytes and a newline.
const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"

func bigJob(size int) string {
	return fmt.Sprintf(`big:
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script: ["{ yes %s || true; } | head -c %d"]
`, line, size)
}

func (e *env) bigViaExec(size int) (time.Duration, error) {
	f, err := os.Create(filepath.Join(e.work, "exec-big.out"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd, start, err := e.exec(bigJob(size), f)
	if err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("slipway exec of the big log: %w", err)
	}
	d := time.Since(start)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return d, checkLines(f, size/64, "slipway exec's output")
}

func (e *env) bigViaServer(size int) (time.Duration, error) {
	start, n, err := e.push(bigJob(size))
	if err != nil {
		return 0, err
	}
	end, err := e.waitBuild(n, 10*time.Minute)
	if err != nil {
		return 0, err
	}
	if e.serverPeak == 0 {
		e.serverPeak, _ = peakRSS(e.server.Process.Pid)
	}
	// The stored log, every line of it (Drone's log API: one entry per line).
	req, _ := http.NewRequest("GET", e.url+"/api/repos/bench/server/builds/"+strconv.Itoa(n)+"/logs/1/1", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(droneLines(resp.Body, pw)) }()
	time.Sleep(500 * time.Millisecond) // the runner is waiting again
	return end.Sub(start), checkLines(pr, size/64, "the stored log")
}

// droneLines writes the "out" of each entry of a Drone log, streamed.
func droneLines(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		var l struct{ Out string }
		if err := dec.Decode(&l); err != nil {
			return err
		}
		if _, err := io.WriteString(w, l.Out); err != nil {
			return err
		}
	}
	return nil
}

// lastPassed is the runner's own "Job passed in" line, by output checked.
var lastPassed = map[string]string{}

// checkLines: the output holds exactly want lines of the big log, one
// after the other (what comes before and after them is the runner's).
func checkLines(r io.Reader, want int, what string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	got, run, inRun := 0, 0, false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `Job "big" passed in`) {
			lastPassed[what] = sc.Text()
		}
		if sc.Text() == line {
			if !inRun && got > 0 {
				return fmt.Errorf("%s: the big log's lines are interrupted after %d", what, got)
			}
			got, inRun = got+1, true
			run++
		} else {
			inRun = false
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != want {
		return fmt.Errorf("%s holds %d lines of the big log, want %d", what, got, want)
	}
	return nil
}

// startEvents collects Docker's container start events of slipway's
// containers.
type startEvents struct {
	mu   sync.Mutex
	seen []startEvent
	more chan struct{}
}

type startEvent struct {
	owner string
	at    time.Time
}

func watchStarts(ctx context.Context) (*startEvents, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	s := &startEvents{more: make(chan struct{}, 1)}
	res := cli.Events(ctx, client.EventsListOptions{Filters: client.Filters{}.
		Add("type", "container").Add("event", "start").Add("label", "slipway.run")})
	go func() {
		defer cli.Close()
		for {
			select {
			case m := <-res.Messages:
				s.add(m)
			case <-res.Err:
				return
			}
		}
	}()
	return s, nil
}

func (s *startEvents) add(m events.Message) {
	s.mu.Lock()
	s.seen = append(s.seen, startEvent{owner: m.Actor.Attributes[engine.LabelOwner], at: time.Unix(0, m.TimeNano)})
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
}

func (s *startEvents) reset() {
	s.mu.Lock()
	s.seen = nil
	s.mu.Unlock()
}

// first is the first start of a container of owner after t.
func (s *startEvents) first(owner string, t time.Time, within time.Duration) (time.Time, error) {
	deadline := time.After(within)
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.seen, func(e startEvent) bool { return e.owner == owner && !e.at.Before(t) })
		var at time.Time
		if i >= 0 {
			at = s.seen[i].at
		}
		s.mu.Unlock()
		if i >= 0 {
			return at, nil
		}
		select {
		case <-s.more:
		case <-deadline:
			return time.Time{}, fmt.Errorf("no container of %s started within %s", owner, within)
		}
	}
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}

func waitFor(within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// lockedBuffer is a bytes.Buffer a process writes while we read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
