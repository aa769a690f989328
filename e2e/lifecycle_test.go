package e2e

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C, and a closed terminal (SIGHUP) likewise: after_script, cleanup,
// exit 130.
func TestCtrlCStopsCleansUpAndExits130(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services: [redis:7.0]
  script:
    - echo started
    - sleep 300
  after_script:
    - echo after-script-ran
`)
			pr := p.start("exec")
			pr.waitFor("started\n", 60*time.Second)
			pr.signal(sig)
			r := pr.waitWithin(60 * time.Second)
			wantCode(t, r, 130)
			mustContain(t, r, "after-script-ran\n")
			assertNothingLeft(t, r.owner)
		})
	}
}

func TestSecondCtrlCKillsAndStillCleansUp(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  script:
    - trap 'echo ignoring TERM' TERM
    - echo started
    - while true; do sleep 0.2; done
`)
	pr := p.start("exec")
	pr.waitFor("started\n", 60*time.Second)
	pr.signal(syscall.SIGINT)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	pr.signal(syscall.SIGINT)
	r := pr.wait()
	wantCode(t, r, 130)
	if d := time.Since(start); d > 9*time.Second {
		t.Errorf("second Ctrl-C took %s: the 10 s grace period was not skipped", d)
	}
	assertNothingLeft(t, r.owner)
}

func TestKilledRunIsCollectedByTheNextOne(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services: [redis:7.0]
  script:
    - echo started
    - sleep 300
`)
	pr := p.start("exec")
	pr.waitFor("started\n", 60*time.Second)
	pr.signal(syscall.SIGKILL)
	killed := pr.wait()
	if c, n, v := labelled(t, "slipway.owner="+killed.owner); c == 0 || n == 0 || v == 0 {
		t.Fatalf("the killed run left %d containers, %d networks, %d volumes; the test needs some", c, n, v)
	}
	q := newProject(t, ".gitlab-ci.yml", "next:\n  image: busybox:1.35\n  script: [echo next]\n")
	r := q.run("exec")
	wantCode(t, r, 0)
	// Tests of other packages, running at the same time, kill runs too:
	// this one's leftovers must be among those removed.
	if !regexp.MustCompile(`removed what [1-9][0-9]* earlier killed run\(s\) left behind`).MatchString(r.stderr) {
		t.Errorf("the next run did not say it removed what a killed run left:\n%s", r)
	}
	assertNothingLeft(t, killed.owner)
}

func TestLargeOutputPassesThroughInOrder(t *testing.T) {
	// 20 MB of numbered lines: every byte must arrive, in order.
	p := newProject(t, ".gitlab-ci.yml", `
big:
  image: busybox:1.35
  script:
    - seq 1 2600000 > /tmp/out; wc -c < /tmp/out; cat /tmp/out
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	var want strings.Builder
	for i := 1; i <= 2600000; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	start := strings.Index(r.stdout, "\n1\n2\n3\n")
	end := strings.Index(r.stdout, `Job "big" passed`)
	if start < 0 || end < 0 {
		t.Fatalf("output not found (len %d)", len(r.stdout))
	}
	got := r.stdout[start+1 : end]
	if sha256.Sum256([]byte(got)) != sha256.Sum256([]byte(want.String())) {
		t.Errorf("output differs: got %d bytes, want %d", len(got), want.Len())
	}
}

// TestWorkspaceLinkOutOfTheCheckout: a link to a sibling of the checkout
// (as a monorepo's may have) is copied as a link that dangles in the job,
// as a git checkout of it would, instead of failing the copy.
func TestWorkspaceLinkOutOfTheCheckout(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  script:
    - readlink up
    - test -L up && ! test -e up && echo dangles
    - cat inside
`, "real.txt", "in the checkout\n")
	for link, target := range map[string]string{"up": "../sibling", "inside": "real.txt"} {
		if err := os.Symlink(target, filepath.Join(p.dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "/builds/group/sibling\n", "dangles\n", "in the checkout\n")
}

// `slipway exec | head -1`: once the reader of stdout is gone, the next
// write raises SIGPIPE; the run is canceled and everything removed, and
// the failing writes do not stop the cleanup.
func TestClosedStdoutStillCleansUp(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services: [redis:7.0]
  script:
    - while true; do echo tick; sleep 0.2; done
`)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(slipway, "exec")
	cmd.Dir, cmd.Stdout = p.dir, wr
	pr := &proc{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd.Stderr = pr.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	lines := bufio.NewScanner(rd)
	for lines.Scan() && lines.Text() != "tick" {
	}
	rd.Close() // what head does after its line
	r := pr.waitWithin(60 * time.Second)
	wantCode(t, r, 130)
	assertNothingLeft(t, r.owner)
}

// Steps run under an init that passes SIGTERM on to the command in the
// foreground: a trap in the script runs at once, and a step that exits on
// TERM ends well within the 10 s grace period. The trap takes half a
// second, as a cleanup does: the step must not be torn down under it.
func TestCtrlCReachesTheStepsCommands(t *testing.T) {
	for name, script := range map[string]string{
		"trap":    `trap 'sleep 0.5; echo handled-TERM; exit 3' TERM; echo started; sleep 300`,
		"no trap": `echo started; sleep 300`,
	} {
		t.Run(name, func(t *testing.T) {
			p := newProject(t, ".gitlab-ci.yml", "test:\n  image: busybox:1.35\n  script:\n    - "+strconv.Quote(script)+"\n")
			pr := p.start("exec")
			pr.waitFor("started\n", 60*time.Second)
			start := time.Now()
			pr.signal(syscall.SIGINT)
			if name == "trap" {
				pr.waitFor("handled-TERM\n", 5*time.Second)
				t.Logf("the trap ran %s after Ctrl-C", time.Since(start))
			}
			r := pr.waitWithin(60 * time.Second)
			d := time.Since(start)
			t.Logf("slipway exited %s after Ctrl-C", d)
			wantCode(t, r, 130)
			if d > 3*time.Second {
				t.Errorf("Ctrl-C took %s: the step did not stop on SIGTERM", d)
			}
			assertNothingLeft(t, r.owner)
		})
	}
}
