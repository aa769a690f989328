package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebInterfaceWithARunner is the web interface driven by a real
// headless Chromium against the slipway server binary and a runner
// registered with a token minted on the runners page: sign in, add a
// repository, add a secret in its settings, push, watch the build appear
// on the builds list and its log lines arrive while the job runs, see it
// turn green, find the secret nowhere in the page, restart it, and cancel
// a running build with the button. Each page's screenshot goes to screenshotDir.
func TestWebInterfaceWithARunner(t *testing.T) {
	sv := serve(t)
	srv, addr, url, admin := sv.proc, sv.addr, sv.url, sv.admin
	ctx := chromium(t, 4*time.Minute)
	shots := screenshotDir(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nserver:\n%s", what, err, srv.stderr.String())
		}
	}

	do("sign in", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	shot("sign-in")
	do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), admin), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#namespace")))
	for _, slug := range []string{"octo/web", "octo/long"} {
		ns, name, _ := strings.Cut(slug, "/")
		do("add "+slug, chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("#namespace")),
			chromedp.SendKeys(chromedp.CSS("#namespace"), ns), chromedp.SendKeys(chromedp.CSS("#name"), name),
			chromedp.Submit(chromedp.CSS("#name")), chromedp.WaitVisible(chromedp.CSS(`a[href="/`+slug+`/-/settings"]`)))
	}
	do("the repositories", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS(`a[href="/octo/web"]`)))
	shot("repositories")

	const secret = "s3cret-web-value"
	do("add a secret", chromedp.Navigate(url+"/octo/web/-/settings"), chromedp.WaitVisible(chromedp.CSS("#secret-name")),
		chromedp.SendKeys(chromedp.CSS("#secret-name"), "token"), chromedp.SendKeys(chromedp.CSS("#secret-value"), secret),
		chromedp.Click(chromedp.CSS("#add-secret")), chromedp.WaitVisible(chromedp.CSS(`.note`)))
	shot("settings")
	noSecret(t, ctx, secret, "the settings page")

	do("mint a runner token", chromedp.Navigate(url+"/-/runners"), chromedp.WaitVisible(chromedp.CSS("#mint")),
		chromedp.Click(chromedp.CSS("#mint")), chromedp.WaitVisible(chromedp.CSS("#register")))
	line, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#register")))
	if err != nil || !strings.HasPrefix(line, "slipway runner register --url "+url+" --token glrt-") {
		t.Fatalf("the register line: %q %v", line, err)
	}
	shot("runners-token")
	runner := registerAndRun(t, strings.Fields(line)[3:])
	defer func() { runner.signal(syscall.SIGTERM); runner.waitWithin(60 * time.Second) }()

	// The builds list is open before the push: the build must appear on
	// it without a reload.
	do("the empty builds list", chromedp.Navigate(url+"/octo/web"), chromedp.WaitVisible(chromedp.CSS("#live")))
	push(t, addr, admin, "octo/web", ".drone.yml", `
kind: pipeline
name: default
steps:
- name: ticks
  image: busybox:1.35
  pull: if-not-present
  environment:
    TOKEN: {from_secret: token}
  commands:
  - echo "token is $TOKEN"
  - for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 1; done
`)
	do("the build appears on the open list", chromedp.WaitVisible(chromedp.CSS(`a[href="/octo/web/-/builds/1"]`)))
	shot("builds")
	do("the build page", chromedp.Click(chromedp.CSS(`a[href="/octo/web/-/builds/1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.stage a`)))
	shot("build")
	do("the job's log", chromedp.Click(chromedp.CSS(`.stage a`)), chromedp.WaitVisible(chromedp.CSS("#log")))
	// Lines arrive while the job runs: a tick is visible, and the job's
	// status still says running.
	do("a live line", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#log .line")].some(l => l.textContent.includes("tick 2"))`,
		chromedp.WithPollingTimeout(2*time.Minute)))
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#job-status")))
	if err != nil || status != "running" {
		t.Errorf("tick 2 showed when the job was %q: want it live, before the job ends", status)
	}
	shot("log-live")
	do("the job turns green", chromedp.WaitVisible(chromedp.CSS("#job-status .st-success")))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#log")))
	if err != nil || !strings.Contains(text, "token is [MASKED]") || !strings.Contains(text, "tick 8") {
		t.Errorf("the finished log: %v\n%s", err, text)
	}
	noSecret(t, ctx, secret, "the log page")
	do("the build page turns green", chromedp.Navigate(url+"/octo/web/-/builds/1"), chromedp.WaitVisible(chromedp.CSS("h1 .st-success")))
	shot("build-success")
	do("restart it", chromedp.Click(chromedp.CSS("#restart")),
		chromedp.WaitVisible(chromedp.CSS(`.facts a[href="/octo/web/-/builds/1"]`)), // "restarted from #1" on build 2
		chromedp.WaitVisible(chromedp.CSS("h1 .st-success")))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != url+"/octo/web/-/builds/2" {
		t.Errorf("the restarted build's page: %q %v", loc, err)
	}

	push(t, addr, admin, "octo/long", ".gitlab-ci.yml", `
long:
  image: {name: "busybox:1.35", pull_policy: if-not-present}
  script:
    - echo "long job started"
    - sleep 300
`)
	do("a running build", chromedp.Navigate(url+"/octo/long/-/builds/1"), chromedp.WaitVisible(chromedp.CSS(`h1 .st-running`)))
	do("the runner's current job", chromedp.Navigate(url+"/-/runners"), chromedp.WaitVisible(chromedp.CSS(`a[href^="/octo/long/-/jobs/"]`)))
	if row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("tbody tr"))); err != nil || strings.Contains(row, "never") || !strings.Contains(row, "long") {
		t.Errorf("the runner's row while it runs octo/long: %q %v", row, err)
	}
	shot("runners")
	do("back to the running build", chromedp.Navigate(url+"/octo/long/-/builds/1"), chromedp.WaitVisible(chromedp.CSS(`#cancel`)))
	start := time.Now()
	do("cancel it", chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS(`h1 .st-killed`)))
	t.Logf("cancel button to the page showing killed: %v", time.Since(start).Round(time.Millisecond))
	shot("build-canceled")
	noSecret(t, ctx, secret, "the canceled build")
}

// noSecret fails if the page's text or HTML holds the secret.
func noSecret(t *testing.T, ctx context.Context, secret, where string) {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil || strings.Contains(html, secret) {
		t.Errorf("%s shows the secret (%v)", where, err)
	}
}

// registerAndRun registers a runner with the web page's arguments
// (--url U --token T) and runs it.
func registerAndRun(t *testing.T, args []string) *proc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "runner.toml")
	args = append([]string{"runner", "register"}, append(args, "--executor", "docker", "--config", cfg)...)
	if out, err := exec.Command(slipway, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v %s", args, err, out)
	}
	p := &project{t: t, dir: t.TempDir()}
	return p.start("runner", "run", "--config", cfg)
}

// chromium starts Debian's headless Chromium; CI must have it (.ci/run
// installs it).
func chromium(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	const bin = "/usr/bin/chromium"
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("the web interface's test needs Debian's chromium package: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1100, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshotDir is where the web tests leave their screenshots:
// $SLIPWAY_SCREENSHOTS, else test-artifacts/web at the repository's root
// (README.md names it).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLIPWAY_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts", "web")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
