package e2e

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engineProxy forwards a unix socket to the Docker Engine's, and can cut
// every connection at once: the engine "goes away" for slipway while the
// real engine keeps running for the rest of the machine.
type engineProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newEngineProxy(t *testing.T) (*engineProxy, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &engineProxy{ln: ln}
	go p.serve()
	t.Cleanup(p.cut)
	return p, "unix://" + path
}

func (p *engineProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", "/var/run/docker.sock")
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		// Pass half-closes on: the attach stream closes stdin and keeps
		// reading the output.
		go func() { _, _ = io.Copy(up, c); _ = up.(*net.UnixConn).CloseWrite() }()
		go func() { _, _ = io.Copy(c, up); _ = c.(*net.UnixConn).CloseWrite() }()
	}
}

// cut closes the listener and every connection.
func (p *engineProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestEngineGoingAwayMidRunFailsClearly(t *testing.T) {
	proxy, host := newEngineProxy(t)
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  script:
    - echo started
    - sleep 300
`)
	pr := p.startEnv([]string{"DOCKER_HOST=" + host}, "exec")
	pr.waitFor("started\n", 60*time.Second)
	proxy.cut()
	done := make(chan result, 1)
	go func() { done <- pr.wait() }()
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		pr.signal(9)
		t.Fatal("slipway hung after the engine went away")
	}
	if r.code == 0 {
		t.Errorf("exit 0 after the engine went away\n%s", r)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("a stack trace:\n%s", r)
	}
	mustContain(t, r, `Job "test" failed`)
	// The engine itself is fine: what the dead run left is collected.
	gc := p.run("gc")
	wantCode(t, gc, 0)
	assertNothingLeft(t, r.owner)
}

func TestJobTimeoutFailsAndCleansUp(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
slow:
  image: busybox:1.35
  timeout: 3s
  services: [redis:7.0]
  script:
    - echo started
    - sleep 300
  after_script:
    - echo after-timeout
`)
	start := time.Now()
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, `Job "slow" failed`, "timed out after 3s", "after-timeout\n")
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDroneTimeout(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: slow
timeout: 3s
steps:
- name: wait
  image: busybox:1.35
  commands: [echo started, sleep 300]
`)
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, `Job "slow" failed`, "timed out after 3s")
}

func TestSecretsAreMaskedEverywhere(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: leak
  image: busybox:1.35
  environment:
    TOKEN:
      from_secret: token
    KEY:
      from_secret: key
  commands:
  - echo "plain $TOKEN"
  - printf '%s' "$TOKEN" | base64
  - t="$TOKEN"; printf 'split %s' "$${t%%-*}"; sleep 0.3; printf -- '-%s\n' "$${t#*-}"
  - echo "$KEY"
  - echo "$TOKEN" >&2
- name: other
  image: busybox:1.35
  commands:
  - echo "other sees [$${TOKEN:-nothing}]"
`, "key.pem", "-----BEGIN KEY-----\nline-one-of-the-key\nline-two-of-the-key\n-----END KEY-----\n")
	r := p.run("exec", "--secret", "token=hunter2-correct-horse", "--secret", "key=@key.pem")
	wantCode(t, r, 0)
	mustNotContain(t, r, "hunter2", "correct-horse", "aHVudGVyMi1jb3JyZWN0LWhvcnNl", "line-one-of-the-key", "line-two-of-the-key")
	// The split line reaches slipway as two writes 0.3 s apart: the
	// masker holds back the start of the secret until it knows.
	mustContain(t, r, "plain [MASKED]", "split [MASKED]\n", "other sees [nothing]")
}

func TestHostileInputIsRefusedClearly(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'k'; i++ {
		prev := string(i - 1)
		laughs += string(i) + ": &" + string(i) + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
	}
	laughs += "test:\n  image: busybox:1.35\n  script: *k\n"
	huge := "test:\n  image: busybox:1.35\n  script:\n" + strings.Repeat("    - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 80000)
	deep := "test: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	// GitLab keeps the last of a key written twice (gitlab_rules_test.go); Drone refuses it.
	dup := "kind: pipeline\nsteps:\n- name: s\n  image: busybox:1.35\n  image: busybox:1.35\n  commands: [echo a]\n"
	for name, tc := range map[string]struct{ file, yml, want string }{
		"billion laughs gitlab": {".gitlab-ci.yml", laughs, ".gitlab-ci.yml"},
		"billion laughs drone":  {".drone.yml", strings.Replace(laughs, "test:\n  image: busybox:1.35\n  script: *k\n", "kind: pipeline\nsteps:\n- name: s\n  image: busybox:1.35\n  commands: *k\n", 1), ".drone.yml"},
		"huge file":             {".gitlab-ci.yml", huge, "more than"},
		"deep nesting":          {".gitlab-ci.yml", deep, ".gitlab-ci.yml"},
		"duplicate key drone":   {".drone.yml", dup, ".drone.yml:5:3"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProject(t, tc.file, tc.yml)
			r := p.run("exec")
			wantCode(t, r, 2)
			if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "goroutine ") || strings.Count(r.stderr, "\n") > 60 {
				t.Errorf("stderr lacks %q or is a trace:\n%.2000s", tc.want, r.stderr)
			}
			mustNotContain(t, r, "Running job")
		})
	}
}

// Ctrl-C at several points of a run: each time exit 130 and nothing left.
func TestCtrlCAtSeveralPoints(t *testing.T) {
	for name, tc := range map[string]struct{ yml, waitFor string }{
		"while services start": {`
test:
  image: busybox:1.35
  services: [` + deafServiceImage + `]
  script: [echo never]
`, "Running job"},
		"during after_script": {`
test:
  image: busybox:1.35
  script: [echo main]
  after_script:
    - echo in-after-script
    - sleep 300
`, "in-after-script\n"},
		"between stages": {`
stages: [a, b]
first:
  stage: a
  image: busybox:1.35
  script: [echo first-done]
second:
  stage: b
  image: busybox:1.35
  script: [sleep 300]
`, `Job "first" passed`},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProject(t, ".gitlab-ci.yml", tc.yml, "config.toml", "[[runners]]\n[runners.docker]\nwait_for_services_timeout = 300\n")
			pr := p.start("exec", "--config", "config.toml")
			pr.waitFor(tc.waitFor, 60*time.Second)
			time.Sleep(300 * time.Millisecond)
			pr.signal(syscall.SIGINT)
			done := make(chan result, 1)
			go func() { done <- pr.wait() }()
			select {
			case r := <-done:
				wantCode(t, r, 130)
				mustNotContain(t, r, "never\n")
				assertNothingLeft(t, r.owner)
			case <-time.After(60 * time.Second):
				pr.signal(syscall.SIGKILL)
				t.Fatal("Ctrl-C did not end the run within 60 s")
			}
		})
	}
}

// 300 jobs with one error each: the first 100 lines are printed, and how
// many more there are.
func TestErrorLinesAreCapped(t *testing.T) {
	var yml strings.Builder
	for i := range 300 {
		fmt.Fprintf(&yml, "job%d:\n  image: other:1\n  script: [echo]\n", i)
	}
	p := newProject(t, ".gitlab-ci.yml", yml.String(), "config.toml", "[[runners]]\n[runners.docker]\nallowed_images = [\"busybox:*\"]\n")
	r := p.run("lint", "--config", "config.toml")
	wantCode(t, r, 2)
	// The error: warnings (the project is no git checkout) come before it.
	at := strings.Index(r.stderr, "slipway: ")
	if at < 0 {
		t.Fatalf("no error on stderr:\n%s", r.stderr)
	}
	errLines := r.stderr[at:]
	if n := strings.Count(errLines, "\n"); n > 101 || !strings.HasSuffix(r.stderr, "(200 more lines not shown)\n") {
		t.Errorf("%d lines on stderr:\n%.3000s", n, r.stderr)
	}
}

// TestLintAndErrorsMaskSecrets: what lint prints and what an error says
// never show a --secret value, even where the file quotes it.
func TestLintAndErrorsMaskSecrets(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", "test:\n  image: busybox:1.35\n  services: [\"redis:hunter2-lint-value\"]\n  script: [echo hunter2-lint-value]\n")
	r := p.run("lint", "--secret", "tok=hunter2-lint-value")
	wantCode(t, r, 0)
	mustNotContain(t, r, "hunter2-lint-value")
	mustContain(t, r, "echo [MASKED]")
	p.write(".gitlab-ci.yml", "test:\n  image: \"bad image hunter2-lint-value\"\n  script: [x]\n")
	r = p.run("exec", "--secret", "tok=hunter2-lint-value")
	wantCode(t, r, 2)
	mustNotContain(t, r, "hunter2-lint-value")
	mustContain(t, r, "bad image [MASKED]")
}
