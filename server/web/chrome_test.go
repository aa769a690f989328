package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's chromium package's binary (.ci/run installs it).
const chromium = "/usr/bin/chromium"

// browserContext starts a headless Chromium. In CI a missing browser is a
// failure: the test must run there.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs Debian's chromium package for the browser test: %v", err)
		}
		t.Skipf("no %s (apt-get install chromium); CI runs this test", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1000, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowserFollowsALiveLog signs in with Chromium, opens the repository,
// its build and the running job's log, and sees lines appended to the
// store appear in the page while it stays open.
func TestBrowserFollowsALiveLog(t *testing.T) {
	ctx := browserContext(t)
	s := startSite(t).withBuild(t)
	job := s.jobs[0].ID
	s.appendLog(t, job, "$ make\n\x1b[32mcompiled\x1b[0m 12 files\n")

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), s.admin),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/acme/app"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/acme/app"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/acme/app/-/builds/1"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/acme/app/-/builds/1"]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`a[href="/acme/app/-/jobs/%d/log"]`, job))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/acme/app/-/jobs/%d/log"]`, job))),
		chromedp.WaitVisible(chromedp.CSS("#L2")),
		chromedp.WaitVisible(chromedp.CSS(`#follow[aria-pressed="true"]`)),
	)
	if err != nil {
		t.Fatalf("sign in and open the job's log: %v", err)
	}
	for i := 3; i <= 5; i++ {
		line := fmt.Sprintf("live line %d", i)
		start := time.Now()
		s.appendLog(t, job, line+"\n")
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf("#L%d", i))))
		if err != nil || !strings.Contains(text, line) {
			t.Fatalf("line %d in the page: %q, %v", i, text, err)
		}
		t.Logf("%s visible after %v", line, time.Since(start))
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	dir := screenshotDir(t)
	if err := os.WriteFile(filepath.Join(dir, "job-log.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#follow")),
		chromedp.WaitVisible(chromedp.CSS(`#follow[aria-pressed="false"]`)))
	if err != nil {
		t.Errorf("stop following: %v", err)
	}
	s.finish(t, job)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#job-status .st-success"))); err != nil {
		t.Fatalf("the finished job's status in the page: %v", err)
	}
	colour, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#L2 .fg2").textContent`))
	if err != nil || colour != "compiled" {
		t.Errorf("the coloured span of line 2: %q, %v", colour, err)
	}
	phoneInTheDark(t, ctx, s.url+"/acme/app/-/builds/1", dir)
}

// phoneInTheDark opens a page on a phone-sized screen whose system asks
// for a dark theme: the page must not scroll sideways and must be dark.
func phoneInTheDark(t *testing.T, ctx context.Context, url, dir string) {
	t.Helper()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
	if err == nil {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(360, 740), chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(".stage")))
	}
	if err != nil {
		t.Fatal(err)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || wide > 360 {
		t.Errorf("on a 360 px screen the build page is %d px wide (%v)", wide, err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil || bg != "rgb(13, 17, 23)" {
		t.Errorf("the dark theme's background: %q (%v)", bg, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "build-phone-dark.png"), shot, 0o644)
	}
	if err != nil {
		t.Error(err)
	}
}
