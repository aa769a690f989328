package agent

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/runner"
)

// Agent takes jobs from the servers of a configuration's [[runners]]
// entries and runs them.
type Agent struct {
	Config     *config.Config
	ConfigPath string
	// Runner runs the jobs: its engines, owner and kill switch. Each job
	// runs on a copy with its entry's settings.
	Runner runner.Runner
	// Log receives the agent's own lines (jobs taken and their ends,
	// errors talking to a server); never a token.
	Log io.Writer
	// HTTP is the client for the servers (default: http.DefaultClient).
	HTTP *http.Client
	// SystemID tells the server which machine asks (gitlab-runner's).
	SystemID string
	// TraceInterval is how often a job's new output is sent (default 1 s);
	// CheckInterval overrides check_interval.
	TraceInterval, CheckInterval time.Duration

	mu sync.Mutex
	// checkouts are the jobs' checkouts, shared by the jobs of a commit
	// while Run runs.
	checkouts *checkouts
}

// Run asks every entry's server for jobs and runs up to concurrent jobs
// at once. Ending poll stops asking for jobs; Run then returns when the
// running ones have finished and been reported. Ending jobs cancels the
// running jobs (their after_script still runs) and reports them. The
// jobs of a commit share its checkout (checkouts.go), removed when Run
// returns.
func (a *Agent) Run(poll, jobs context.Context) error {
	var entries []entry
	for _, r := range a.Config.Runners {
		if r.URL != "" && r.Token != "" {
			entries = append(entries, entry{cfg: r, client: &Client{URL: r.URL, HTTP: a.HTTP}})
		}
	}
	if len(entries) == 0 {
		return fmt.Errorf("%s: no [[runners]] entry has a url and a token (run `slipway runner register` first)", a.ConfigPath)
	}
	a.checkouts = newCheckouts("", keepCheckouts)
	defer a.checkouts.close()
	slots := make(chan struct{}, max(a.Config.Concurrent, 1))
	var running, pollers sync.WaitGroup
	for _, e := range entries {
		pollers.Go(func() {
			a.poll(poll, e, slots, func(job *Job) {
				running.Go(func() {
					defer func() { <-slots }()
					a.runJob(jobs, e, job)
				})
			})
		})
	}
	pollers.Wait()
	running.Wait()
	return nil
}

// poll asks e's server for a job whenever a slot is free, until ctx ends.
func (a *Agent) poll(ctx context.Context, e entry, slots chan struct{}, start func(*Job)) {
	info := Info{Name: "slipway", Version: Version, Executor: cmp.Or(e.cfg.Executor, "docker"), Features: features()}
	lastUpdate := ""
	failures := 0
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil { // both were ready: a stopped runner takes no job
			<-slots
			return
		}
		asked := time.Now()
		job, next, err := e.client.Request(ctx, e.cfg.Token, a.SystemID, info, lastUpdate)
		lastUpdate = next
		if job != nil {
			failures = 0
			start(job)
			continue
		}
		<-slots
		wait := a.checkInterval() - time.Since(asked)
		if err != nil && ctx.Err() == nil {
			failures++
			wait = backoff(failures)
			a.logf("%s: asking for a job: %v (again in %s)", e.cfg.URL, err, wait)
		} else {
			failures = 0
		}
		sleep(ctx, wait)
	}
}

func (a *Agent) checkInterval() time.Duration {
	if a.CheckInterval > 0 {
		return a.CheckInterval
	}
	if a.Config.CheckInterval > 0 {
		return time.Duration(a.Config.CheckInterval) * time.Second
	}
	return 3 * time.Second
}

// backoff grows with consecutive failures, up to a minute.
func backoff(n int) time.Duration {
	return min(time.Duration(1<<min(n, 6))*time.Second, time.Minute)
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.Log, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SystemID is the machine's ID kept beside the configuration (as
// gitlab-runner's .runner_system_id), made on first use.
func SystemID(configPath string) (string, error) {
	path := filepath.Join(filepath.Dir(configPath), ".runner_system_id")
	data, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(data)) != "" {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	id := "s_" + newID()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}
