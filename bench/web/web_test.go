// Package web measures slipway's web interface in a real headless
// Chromium (Debian's chromium) against a real server on SQLite:
//
//	go test ./bench/web -run '^$' -bench . -benchtime 1x -v
//
// Each benchmark logs its figures with a ratio against a baseline measured
// in the same run (a ratio is what compares between machines):
//
//   - LogLineLatency: from a log line appended to the store (as the
//     GitLab trace handler does) to the line in the page's DOM. Baseline:
//     the same page served by a web handler without the wake-up hub, which
//     reads the store every 200 ms (how both streams worked before).
//     Goal: under 300 ms.
//   - Follow1MBs: the page follows a log growing 1 MB/s for 10 s; the gaps
//     between animation frames show whether it stays responsive. Baseline:
//     the same page with its log idle. Also how long the page takes to
//     catch up once the writer stops, and the lines it keeps.
//   - BuildPageWeight: bytes transferred to open a build page with the
//     cache off (Resource Timing's transferSize), and requests to other
//     origins. Ratio against the goal, 100 KB; the goal for others is 0.
//
// Benchmarks are not tests: nothing here fails on a number.
package web

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/slipway-ci/slipway/server"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/web"
)

// bench is a server with acme/app and a running job, and a signed-in
// Chromium.
type bench struct {
	url, admin string
	st         store.Store
	runner     int64
	ctx        context.Context
}

func setup(b *testing.B) *bench {
	b.Helper()
	const bin = "/usr/bin/chromium"
	if _, err := exec.LookPath(bin); err != nil {
		b.Fatalf("needs Debian's chromium: %v", err)
	}
	dir := b.TempDir()
	s, err := server.Open(context.Background(), server.Options{DataDir: dir, Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln) }()
	b.Cleanup(func() { stop(); <-done; s.Close() })
	token, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		b.Fatal(err)
	}
	be := &bench{url: "http://" + ln.Addr().String(), admin: strings.TrimSpace(string(token)), st: s.Store()}
	ctx := context.Background()
	admin, err := be.st.UserByLogin(ctx, "admin")
	if err == nil {
		_, err = be.st.CreateRepo(ctx, store.Repo{OwnerID: admin.ID, Namespace: "acme", Name: "app", MaxRequeues: -1})
	}
	var rn store.Runner
	if err == nil {
		rn, err = be.st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-bench")
	}
	if err != nil {
		b.Fatal(err)
	}
	be.runner = rn.ID
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.Headless,
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1100, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	var cancelTimeout context.CancelFunc
	be.ctx, cancelTimeout = context.WithTimeout(bctx, 10*time.Minute)
	b.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return be
}

// runningJob makes a build of acme/app with one job and claims it.
func (be *bench) runningJob(b *testing.B) (build, job int64) {
	b.Helper()
	ctx := context.Background()
	repo, err := be.st.Repo(ctx, "acme", "app")
	if err != nil {
		b.Fatal(err)
	}
	bd, _, err := be.st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: "push", Sender: "bench", Ref: "refs/heads/main",
		Commit: strings.Repeat("ab", 20), Message: "bench"},
		[]store.Job{{Name: "compile", Stage: "build", Document: []byte("{}")}, {Name: "unit", Stage: "test", Needs: []string{"compile"}, Document: []byte("{}")}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := be.st.Claim(ctx, be.runner, nil, true, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return bd.Number, c.Job.ID
}

func (be *bench) signIn(b *testing.B, base string) {
	b.Helper()
	err := chromedp.Do(be.ctx, chromedp.Navigate(base+"/-/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), be.admin), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(".signout")))
	if err != nil {
		b.Fatal(err)
	}
}

func (be *bench) eval(b *testing.B, js string) {
	b.Helper()
	if _, err := chromedp.Run(be.ctx, chromedp.Evaluate[any](js)); err != nil {
		b.Fatalf("%s: %v", js, err)
	}
}

func (be *bench) appendLog(b *testing.B, job int64, text string) {
	b.Helper()
	ctx := context.Background()
	j, err := be.st.Job(ctx, job)
	if err == nil {
		_, err = be.st.AppendLog(ctx, job, j.LogLength, []byte(text))
	}
	if err != nil {
		b.Fatal(err)
	}
}

// watchLines records when each line element enters the log.
const watchLines = `window.seen = {}; new MutationObserver(ms => { const t = Date.now();
  for (const m of ms) for (const n of m.addedNodes) if (n.id) seen[n.id] = t; })
  .observe(document.getElementById("log"), {childList: true, subtree: true}); true`

func BenchmarkLogLineLatency(b *testing.B) {
	be := setup(b)
	_, job := be.runningJob(b)
	be.appendLog(b, job, "first\n")
	// The baseline: the same pages and store, no hub, a 200 ms poll.
	h := web.New(web.Options{Store: be.st, Poll: 200 * time.Millisecond})
	polled := httptest.NewServer(h)
	defer polled.Close()
	defer h.Shutdown() // first: the page's stream would hold Close up
	be.signIn(b, be.url)
	be.signIn(b, polled.URL)
	line := 1
	samples := map[string][]time.Duration{}
	for range b.N {
		for round := 0; round < 4; round++ {
			name, base := "slipway", be.url
			if round%2 == 1 {
				name, base = "baseline (200 ms poll)", polled.URL
			}
			if err := chromedp.Do(be.ctx, chromedp.Navigate(fmt.Sprintf("%s/acme/app/-/jobs/%d/log", base, job)),
				chromedp.WaitVisible(chromedp.CSS("#follow"))); err != nil {
				b.Fatal(err)
			}
			line, _ = chromedp.Run(be.ctx, chromedp.Evaluate[int](`Number(document.getElementById("log").dataset.lines)`))
			be.eval(b, watchLines)
			time.Sleep(300 * time.Millisecond) // the stream is open
			for i := 0; i < 15; i++ {
				line++
				start := time.Now()
				be.appendLog(b, job, fmt.Sprintf("probe %d\n", line))
				seen, err := chromedp.Run(be.ctx, chromedp.Poll[int64](fmt.Sprintf(`seen["L%d"]`, line),
					chromedp.WithPollingInterval(2*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
				if err != nil {
					b.Fatalf("line %d: %v", line, err)
				}
				samples[name] = append(samples[name], time.UnixMilli(seen).Sub(start))
				time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond) // no lockstep with a poll
			}
		}
	}
	s, base := samples["slipway"], samples["baseline (200 ms poll)"]
	b.Logf("log line → in the page, %d samples each:", len(s))
	b.Logf("  slipway (woken by the append): median %v, p95 %v", pct(s, 50), pct(s, 95))
	b.Logf("  baseline (200 ms poll):        median %v, p95 %v", pct(base, 50), pct(base, 95))
	b.Logf("  ratio slipway/baseline: median %.2f; goal < 300 ms: %v", ratio(pct(s, 50), pct(base, 50)), pct(s, 95) < 300*time.Millisecond)
	b.ReportMetric(float64(pct(s, 50).Microseconds())/1000, "ms-median")
	b.ReportMetric(ratio(pct(s, 50), pct(base, 50)), "ratio-to-poll")
}

// rafGaps records the gaps between animation frames until stopped.
const rafGaps = `window.gaps = []; window.rafStop = false; (() => { let last = performance.now();
  const f = t => { gaps.push(t - last); last = t; if (!rafStop) requestAnimationFrame(f); };
  requestAnimationFrame(f); })(); true`

func BenchmarkFollow1MBs(b *testing.B) {
	be := setup(b)
	be.signIn(b, be.url)
	for range b.N {
		_, job := be.runningJob(b)
		be.appendLog(b, job, "start\n")
		if err := chromedp.Do(be.ctx, chromedp.Navigate(fmt.Sprintf("%s/acme/app/-/jobs/%d/log", be.url, job)),
			chromedp.WaitVisible(chromedp.CSS("#follow"))); err != nil {
			b.Fatal(err)
		}
		idle := be.gaps(b, 5*time.Second, nil)
		lines := 1
		busy := be.gaps(b, 10*time.Second, func(stop <-chan struct{}) {
			// 1 MB/s: 32 KiB every 32 ms, lines of 100 bytes with colour.
			tick := time.NewTicker(32 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				var sb strings.Builder
				for sb.Len() < 32<<10 {
					lines++
					fmt.Fprintf(&sb, "\x1b[32m%08d\x1b[0m %s\n", lines, strings.Repeat("x", 80))
				}
				be.appendLog(b, job, sb.String())
			}
		})
		start := time.Now()
		_, err := chromedp.Run(be.ctx, chromedp.Poll[bool](fmt.Sprintf(`!!document.getElementById("L%d")`, lines),
			chromedp.WithPollingTimeout(time.Minute)))
		if err != nil {
			b.Fatalf("the page never showed line %d: %v", lines, err)
		}
		catchUp := time.Since(start)
		kept, _ := chromedp.Run(be.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log .line").length`))
		b.Logf("following a log growing 1 MB/s for 10 s (%d lines), frames:", lines)
		b.Logf("  idle log (baseline): %d frames, p99 gap %.1f ms, max %.1f ms", len(idle), pctf(idle, 99), pctf(idle, 100))
		b.Logf("  1 MB/s:              %d frames, p99 gap %.1f ms, max %.1f ms", len(busy), pctf(busy, 99), pctf(busy, 100))
		b.Logf("  ratio p99 gap 1MB/s / idle: %.2f; frames %.2f; caught up %v after the writer stopped; %d lines kept in the page",
			pctf(busy, 99)/pctf(idle, 99), float64(len(busy))/float64(len(idle))/2, catchUp.Round(time.Millisecond), kept)
		b.ReportMetric(pctf(busy, 99)/pctf(idle, 99), "p99-gap-ratio")
	}
}

// gaps runs work (if any) for d while the page records its frame gaps.
func (be *bench) gaps(b *testing.B, d time.Duration, work func(stop <-chan struct{})) []float64 {
	b.Helper()
	be.eval(b, rafGaps)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if work != nil {
			work(stop)
		}
	}()
	time.Sleep(d)
	close(stop)
	<-done
	gaps, err := chromedp.Run(be.ctx, chromedp.Evaluate[[]float64](`rafStop = true; gaps.slice(1)`))
	if err != nil || len(gaps) == 0 {
		b.Fatalf("frame gaps: %v (%d)", err, len(gaps))
	}
	return gaps
}

func BenchmarkBuildPageWeight(b *testing.B) {
	be := setup(b)
	be.signIn(b, be.url)
	number, job := be.runningJob(b)
	be.appendLog(b, job, "some log\n")
	for range b.N {
		if _, err := chromedp.Call(be.ctx, network.Enable, network.EnableParams{}); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Call(be.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
			b.Fatal(err)
		}
		type entry struct {
			Name     string  `json:"name"`
			Transfer float64 `json:"transferSize"`
		}
		if err := chromedp.Do(be.ctx, chromedp.Navigate(fmt.Sprintf("%s/acme/app/-/builds/%d", be.url, number)),
			chromedp.WaitVisible(chromedp.CSS(".graph")), chromedp.Sleep(time.Second)); err != nil {
			b.Fatal(err)
		}
		entries, err := chromedp.Run(be.ctx, chromedp.Evaluate[[]entry](
			`[...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")].map(e => ({name: e.name, transferSize: e.transferSize}))`))
		if err != nil {
			b.Fatal(err)
		}
		total, foreign := 0.0, 0
		for _, e := range entries {
			total += e.Transfer
			if !strings.HasPrefix(e.Name, be.url+"/") {
				foreign++
				b.Logf("  request to another origin: %s", e.Name)
			}
			b.Logf("  %6.0f B  %s", e.Transfer, strings.TrimPrefix(e.Name, be.url))
		}
		b.Logf("build page: %.1f KB transferred in %d requests, %d to other origins; ratio to the 100 KB goal: %.3f",
			total/1000, len(entries), foreign, total/100e3)
		b.ReportMetric(total/1000, "KB")
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func pctf(d []float64, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
