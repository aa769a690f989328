// Package apitrace is a logging reverse proxy for the Docker Engine API:
// put it in front of the engine's socket (DOCKER_HOST=unix://<Sock>) and
// it records every call, hijacked attach streams included, with its start
// time and duration. bench/ uses it to show where a job's wall time goes.
package apitrace

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Tracer is a reverse proxy on a unix socket in front of the Docker
// Engine's socket that records every API call (hijacked attach streams
// included) with its start and end time.
type Tracer struct {
	// Sock is the proxy's socket path.
	Sock  string
	srv   *http.Server
	mu    sync.Mutex
	t0    time.Time
	calls []*call
}

type call struct {
	what       string
	start, end time.Duration
	done       bool
}

// Start listens on dir/docker.sock and forwards to the engine named by
// DOCKER_HOST (a unix socket; default /var/run/docker.sock).
func Start(dir string) (*Tracer, error) {
	upstream := os.Getenv("DOCKER_HOST")
	if upstream == "" {
		upstream = "unix:///var/run/docker.sock"
	}
	path, ok := strings.CutPrefix(upstream, "unix://")
	if !ok {
		return nil, fmt.Errorf("BENCH_TRACE needs a unix DOCKER_HOST, not %s", upstream)
	}
	tr := &Tracer{Sock: filepath.Join(dir, "docker.sock"), t0: time.Now()}
	l, err := net.Listen("unix", tr.Sock)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConnsPerHost: 64,
		},
		FlushInterval: -1,
	}
	tr.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Recorded when it starts: a call whose response the client has
		// already read may end after the next reset, and then belongs to
		// no report.
		tr.mu.Lock()
		c := &call{what: r.Method + " " + shorten(r.URL.Path), start: time.Since(tr.t0)}
		tr.calls = append(tr.calls, c)
		t0 := tr.t0
		tr.mu.Unlock()
		proxy.ServeHTTP(w, r)
		tr.mu.Lock()
		c.end, c.done = time.Since(t0), true
		tr.mu.Unlock()
	})}
	go func() { _ = tr.srv.Serve(l) }()
	return tr, nil
}

// Close stops the proxy.
func (tr *Tracer) Close() { _ = tr.srv.Close() }

// Reset forgets the calls so far; the next report starts from here.
func (tr *Tracer) Reset() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.t0, tr.calls = time.Now(), nil
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)
	longName      = regexp.MustCompile(`slipway-[0-9a-z]+-`)
)

func shorten(p string) string {
	return longName.ReplaceAllString(versionPrefix.ReplaceAllString(p, ""), "…-")
}

// Report lists the calls in start order, with their start offset and
// duration in milliseconds.
func (tr *Tracer) Report() string {
	tr.mu.Lock()
	var calls []call
	for _, c := range tr.calls {
		if c.done {
			calls = append(calls, *c)
		}
	}
	tr.mu.Unlock()
	sort.Slice(calls, func(i, j int) bool { return calls[i].start < calls[j].start })
	var b strings.Builder
	b.WriteString("      start  duration  call\n")
	var last time.Duration
	for _, c := range calls {
		fmt.Fprintf(&b, "  %9s %9s  %s\n", ms(c.start), ms(c.end-c.start), c.what)
		last = max(last, c.end)
	}
	fmt.Fprintf(&b, "  %d API calls; last one ended at %s\n", len(calls), ms(last))
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
