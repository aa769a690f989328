package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/slipway-ci/slipway/server/store"
)

// TestBrowserPlaysAManualJob opens a blocked build in Chromium, finds the
// manual jobs' Play buttons by their accessible names, checks that the
// manual and blocked statuses have their own colours and outline in the
// light and the dark theme, then plays one manual job from the graph and
// the other from the job list and sees the page update.
func TestBrowserPlaysAManualJob(t *testing.T) {
	ctx := browserContext(t)
	s := startSite(t).withManualBuild(t)
	deploy, notify := s.jobs[1].ID, s.jobs[2].ID
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/acme/app/-/builds/1"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), s.admin),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#play-button-%d", deploy))),
	)
	if err != nil {
		t.Fatalf("sign in and open the blocked build: %v", err)
	}
	for _, name := range []string{"Play deploy", "Play notify"} {
		if n := buttonsNamed(t, ctx, name); n != 1 {
			t.Errorf("%d buttons named %q for assistive technology, want 1", n, name)
		}
	}
	dir := screenshotDir(t)
	light := statusLooks(t, ctx, filepath.Join(dir, "build-manual.png"))
	_, err = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
	if err == nil {
		err = chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".st-manual")))
	}
	if err != nil {
		t.Fatal(err)
	}
	dark := statusLooks(t, ctx, filepath.Join(dir, "build-manual-dark.png"))
	for i, what := range []string{"blocked", "manual", "success"} {
		if light[i] == dark[i] {
			t.Errorf("%s looks the same in both themes: %s", what, light[i])
		}
	}

	// The graph's ▶ submits notify's form (in the job list), then the
	// list's button deploy's.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.play-mini[form="play-%d"]`, notify))),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf("#play-%d", notify))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#play-button-%d", deploy))),
	)
	if err != nil {
		t.Fatalf("play notify from the graph: %v", err)
	}
	if j, err := s.st.Job(context.Background(), notify); err != nil || j.Status != store.JobPending {
		t.Errorf("notify after its ▶ in the graph: %s (%v), want pending", j.Status, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#play-button-%d", deploy))),
		chromedp.WaitNotPresent(chromedp.CSS(".play")),
		chromedp.WaitVisible(chromedp.CSS("h1 .st-running")),
	)
	if err != nil {
		t.Fatalf("play deploy from the job list: %v", err)
	}
	s.wantState(t, store.JobPending, store.BuildRunning)
}

// buttonsNamed counts the buttons Chromium's accessibility tree names name
// (the graph's copies are hidden from it).
func buttonsNamed(t *testing.T, ctx context.Context, name string) int {
	t.Helper()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range tree.Nodes {
		if !node.Ignored && node.Role != nil && string(node.Role.Value) == `"button"` &&
			node.Name != nil && string(node.Name.Value) == fmt.Sprintf("%q", name) {
			n++
		}
	}
	return n
}

// statusLooks answers the colours of the blocked build's, a manual job's
// and a successful job's status, checks that they differ and that the
// two waiting ones are outlined dashed, and saves a screenshot.
func statusLooks(t *testing.T, ctx context.Context, shotFile string) []string {
	t.Helper()
	looks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[
		"h1 .st-blocked", ".stage .st-manual", ".stage .st-success", "h1 .st-blocked", ".stage .st-manual"
	].map((sel, i) => { const st = getComputedStyle(document.querySelector(sel)); return i < 3 ? st.color : st.borderTopStyle; })`))
	if err != nil {
		t.Fatal(err)
	}
	if looks[0] == looks[1] || looks[0] == looks[2] || looks[1] == looks[2] || looks[3] != "dashed" || looks[4] != "dashed" {
		t.Errorf("blocked, manual and success statuses (colours, then outlines): %q", looks)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(shotFile, shot, 0o644)
	}
	if err != nil {
		t.Error(err)
	}
	return looks[:3]
}

// screenshotDir is where the browser tests store their screenshots
// (README: test-artifacts/web/).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLIPWAY_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts", "web")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
