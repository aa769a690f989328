// Command wakebench measures how long a job waits for a runner that is
// already polling: the time from a job being queued to the waiting POST
// jobs/request answering with it, over real HTTP, on a SQLite store.
//
//	go run ./server/gitlabapi/wakebench [-short] [-n 30]
//
// The baseline, measured in the same run, is the same request when the
// job is already queued (HTTP, claim and answer, no waiting). What a
// waiting runner adds on top of it is compared with the handler's
// fallback claim retry interval: the store wakes waiting polls when it
// queues a job (a push's build, a finished need), so what waiting adds
// should be nearly nothing, not about half the interval as when the
// handler polled the queue every 100 ms.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/gitlabapi"
	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/sqlite"
)

// retryInterval is gitlabapi's fallback claim retry interval (claimRetry),
// which the figures are compared with; phase spreads when jobs are queued
// relative to the poll's start.
const (
	retryInterval = time.Second
	phase         = 100 * time.Millisecond
)

func main() {
	short := flag.Bool("short", false, "CI mode: few repetitions; proves the benchmark works")
	n := flag.Int("n", 30, "repetitions of each measurement")
	flag.Parse()
	if *short {
		*n = 3
	}
	if err := run(context.Background(), os.Stdout, *n); err != nil {
		fmt.Fprintln(os.Stderr, "wakebench:", err)
		os.Exit(1)
	}
}

// bench is a store with a repository and a runner, behind the handler.
type bench struct {
	st     store.Store
	repo   store.Repo
	srv    *httptest.Server
	doc    []byte
	runner string
}

// figures are the medians of one run.
type figures struct {
	ready, wake, afterFinish time.Duration
}

func run(ctx context.Context, out io.Writer, n int) error {
	dir, err := os.MkdirTemp("", "wakebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := setUp(ctx, dir)
	if err != nil {
		return err
	}
	defer b.st.Close()
	defer b.srv.Close()
	f, err := b.measure(ctx, n)
	if err != nil {
		return err
	}
	report(out, f, n)
	return nil
}

func setUp(ctx context.Context, dir string) (*bench, error) {
	box, err := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "slipway.db"), box)
	if err != nil {
		return nil, err
	}
	b := &bench{st: st, runner: "glrt-wakebench"}
	u, err := st.CreateUser(ctx, store.User{Login: "bench"}, "bench-token")
	if err == nil {
		b.repo, err = st.CreateRepo(ctx, store.Repo{OwnerID: u.ID, Namespace: "bench", Name: "wake", MaxRequeues: -1})
	}
	if err == nil {
		_, err = st.CreateRunner(ctx, store.Runner{Description: "bench", RunUntagged: true}, b.runner)
	}
	if err == nil {
		b.doc, err = document()
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v4/", gitlabapi.New(st, gitlabapi.Options{ExternalURL: "http://bench.invalid",
		Lease: time.Minute, PollTimeout: 10 * time.Second}))
	b.srv = httptest.NewServer(mux)
	return b, nil
}

// document is the job every build queues.
func document() ([]byte, error) {
	p, _, err := gitlab.Parse(".gitlab-ci.yml", []byte("job:\n  script: [\"true\"]\n"), gitlab.Options{ProjectPath: "bench/wake"})
	if err != nil {
		return nil, err
	}
	d, err := pipeline.NewDocument(p)
	if err != nil {
		return nil, err
	}
	return d.Encode()
}

// queue queues a build of the jobs; a job needs the one before it.
func (b *bench) queue(ctx context.Context, names ...string) ([]store.Job, error) {
	var jobs []store.Job
	for i, name := range names {
		j := store.Job{Name: name, Stage: "test", Document: b.doc}
		if i > 0 {
			j.Needs = []string{names[i-1]}
		}
		jobs = append(jobs, j)
	}
	_, out, err := b.st.CreateBuild(ctx, store.Build{RepoID: b.repo.ID, Event: "push", Ref: "refs/heads/main",
		Commit: "0123456789abcdef0123456789abcdef01234567"}, jobs)
	return out, err
}

// poll is one jobs/request; it returns the answer's status and its time.
func (b *bench) poll(ctx context.Context) (int, time.Time, error) {
	body := []byte(`{"token":"` + b.runner + `"}`)
	req, err := http.NewRequestWithContext(ctx, "POST", b.srv.URL+"/api/v4/jobs/request", bytes.NewReader(body))
	if err != nil {
		return 0, time.Time{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, time.Now(), err
}

// finish reports the claimed job of the build as a success, through the
// store (as the runner's PUT would).
func (b *bench) finish(ctx context.Context, buildID int64) error {
	jobs, err := b.st.Jobs(ctx, buildID)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Status == store.JobRunning {
			return b.st.Finish(ctx, j.ID, j.RunnerID, store.Result{Status: store.JobSuccess})
		}
	}
	return fmt.Errorf("build %d has no running job", buildID)
}

func (b *bench) measure(ctx context.Context, n int) (figures, error) {
	var ready, wake []time.Duration
	for i := range n {
		r, err := b.readyOnce(ctx)
		if err != nil {
			return figures{}, err
		}
		// Queue at a different phase of the retry interval each time.
		w, err := b.wakeOnce(ctx, time.Duration(i)*phase/time.Duration(n))
		if err != nil {
			return figures{}, err
		}
		ready, wake = append(ready, r), append(wake, w)
	}
	af, err := b.afterFinish(ctx, n)
	return figures{ready: median(ready), wake: median(wake), afterFinish: af}, err
}

// readyOnce: the job is queued before the runner asks.
func (b *bench) readyOnce(ctx context.Context) (time.Duration, error) {
	jobs, err := b.queue(ctx, "ready")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	status, end, err := b.poll(ctx)
	end, err = created(pollResult{status, end, err})
	if err == nil {
		err = b.finish(ctx, jobs[0].BuildID)
	}
	return end.Sub(start), err
}

// wakeOnce: the runner is waiting when the job is queued.
func (b *bench) wakeOnce(ctx context.Context, offset time.Duration) (time.Duration, error) {
	got := b.startPoll(ctx)
	time.Sleep(2*phase + offset) // the poll is waiting by now
	jobs, err := b.queue(ctx, "wake")
	queued := time.Now()
	if err != nil {
		return 0, err
	}
	end, err := created(<-got)
	if err != nil {
		return 0, err
	}
	return end.Sub(queued), b.finish(ctx, jobs[0].BuildID)
}

type pollResult struct {
	status int
	end    time.Time
	err    error
}

// startPoll sends a jobs/request whose answer comes on the channel.
func (b *bench) startPoll(ctx context.Context) <-chan pollResult {
	got := make(chan pollResult, 1)
	go func() {
		status, end, err := b.poll(ctx)
		got <- pollResult{status, end, err}
	}()
	return got
}

// created is when a poll got its job, or why it did not.
func created(r pollResult) (time.Time, error) {
	if r.err == nil && r.status != http.StatusCreated {
		r.err = fmt.Errorf("jobs/request answered %d, want 201", r.status)
	}
	return r.end, r.err
}

// afterFinish: the runner waits for a job that becomes pending when the
// job it needs is finished through the API (PUT jobs/:id).
func (b *bench) afterFinish(ctx context.Context, n int) (time.Duration, error) {
	var d []time.Duration
	for range n {
		if _, err := b.queue(ctx, "first", "second"); err != nil {
			return 0, err
		}
		tok, id, err := b.claimFirst(ctx)
		if err != nil {
			return 0, err
		}
		got := b.startPoll(ctx)
		time.Sleep(phase / 2)
		start := time.Now()
		if err := b.put(ctx, id, tok); err != nil {
			return 0, err
		}
		end, err := created(<-got)
		if err != nil {
			return 0, err
		}
		d = append(d, end.Sub(start))
		if err := b.finishAll(ctx); err != nil {
			return 0, err
		}
	}
	return median(d), nil
}

// claimFirst takes the pending job through the API; it returns its token
// and id.
func (b *bench) claimFirst(ctx context.Context) (string, int64, error) {
	body := []byte(`{"token":"` + b.runner + `"}`)
	resp, err := http.Post(b.srv.URL+"/api/v4/jobs/request", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var j struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if err := decode(resp, &j); err != nil {
		return "", 0, err
	}
	return j.Token, j.ID, nil
}

// put reports the job a success through the API.
func (b *bench) put(ctx context.Context, id int64, tok string) error {
	body := []byte(`{"token":"` + tok + `","state":"success"}`)
	req, err := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/api/v4/jobs/%d", b.srv.URL, id), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT jobs/%d answered %d", id, resp.StatusCode)
	}
	return nil
}

// finishAll finishes every running job, so the next round starts empty.
func (b *bench) finishAll(ctx context.Context) error {
	builds, err := b.st.ListBuilds(ctx, b.repo.ID, 1, 1)
	if err != nil || len(builds) == 0 {
		return err
	}
	return b.finish(ctx, builds[0].ID)
}

func decode(resp *http.Response, v any) error {
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("jobs/request answered %d, want 201", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(out io.Writer, f figures, n int) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "jobs/request, SQLite, median of %d\t\t\n", n)
	fmt.Fprintf(w, "baseline: job already queued\t%s\t\n", ms(f.ready))
	fmt.Fprintf(w, "runner waiting, job queued by the server\t%s\t%.2fx baseline\n", ms(f.wake), ratio(f.wake, f.ready))
	fmt.Fprintf(w, "runner waiting, job freed by PUT success\t%s\t%.2fx baseline\n", ms(f.afterFinish), ratio(f.afterFinish, f.ready))
	added := f.wake - f.ready
	fmt.Fprintf(w, "added by waiting (queued by the server)\t%s\t%.3f of the %s fallback retry interval\n", ms(added),
		ratio(added, retryInterval), retryInterval)
	w.Flush()
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
