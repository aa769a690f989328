// Package server is slipway's CI server: it hosts repositories' git over
// HTTP, turns pushes into builds whose jobs wait in the store's queue,
// answers the Drone REST API the drone CLI uses, and mounts the GitLab
// Runner API that runners take jobs through.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/postgres"
	"github.com/slipway-ci/slipway/server/store/sqlite"
	"github.com/slipway-ci/slipway/server/web"
)

// Options configure a server.
type Options struct {
	// DataDir holds the SQLite database, the hosted repositories, the
	// secret key and the first administrator's token.
	DataDir string
	// Database is a postgres:// URL; empty means SQLite under DataDir.
	Database string
	// ExternalURL is how runners and users reach the server (clone URLs);
	// empty means http://<listen address>.
	ExternalURL string
	// RunnerAPI makes the GitLab Runner API handler mounted at /api/v4/
	// (gitlabapi.New); it is a constructor because the handler needs the
	// store Open creates and the external URL Serve settles (clone URLs).
	// nil: /api/v4/ answers 404 with a reason.
	RunnerAPI func(st store.Store, sealer store.Sealer, externalURL string) http.Handler
	// LeaseCheck is how often lapsed job leases are taken back (default
	// 5 s).
	LeaseCheck time.Duration
	// Sweep is how often expired artifacts and old webhook delivery ids
	// are deleted (default 10 min).
	Sweep time.Duration
	// Log receives what the server tells its operator (default stderr).
	Log io.Writer
}

// Server is a running slipway server's state.
type Server struct {
	opts    Options
	st      store.Store
	sealer  store.Sealer
	git     string // the git binary, for http-backend and init
	repos   string // GIT_PROJECT_ROOT
	runner  http.Handler
	metrics *metrics
	web     *web.Handler // the web interface (server/web)
	// hub wakes log streams and live pages when s.st (live.Notifying)
	// sees a log grow or a build change.
	hub *live.Hub
	// streams closes when the server shuts down, ending the API's open
	// log streams, which would otherwise hold the shutdown up.
	streams     chan struct{}
	streamsOnce sync.Once
	// pushMu serialises receive-packs per repository, so the refs read
	// before and after one belong to that push alone.
	pushMu sync.Map // repo ID -> *sync.Mutex
}

// AdminTokenFile is the name, under the data directory, of the file the
// first start writes the administrator's API token to.
const AdminTokenFile = "admin.token"

// Open prepares the data directory, opens the store (running its
// migrations) and, on the first start, creates the administrator.
func Open(ctx context.Context, o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.LeaseCheck <= 0 {
		o.LeaseCheck = 5 * time.Second
	}
	if o.Sweep <= 0 {
		o.Sweep = 10 * time.Minute
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the server hosts repositories with git's http-backend: %w", err)
	}
	s := &Server{opts: o, git: gitBin, repos: filepath.Join(o.DataDir, "repos"), streams: make(chan struct{})}
	if err := os.MkdirAll(s.repos, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	box, err := secretbox.Load(filepath.Join(o.DataDir, "secret.key"))
	if err != nil {
		return nil, err
	}
	s.sealer = box
	if s.st, err = openStore(ctx, o, box); err != nil {
		return nil, err
	}
	s.hub = &live.Hub{}
	s.st = live.Notifying(s.st, s.hub)
	s.metrics = newMetrics(s.st)
	if err := s.bootstrap(ctx); err != nil {
		s.st.Close()
		return nil, err
	}
	s.web = web.New(web.Options{Store: s.st, AddRepo: s.addRepo, Hub: s.hub,
		RestartBuild: s.RestartBuild, MintRunnerToken: s.mintRunnerToken, BadgeKey: s.badgeKey()})
	return s, nil
}

func openStore(ctx context.Context, o Options, sealer store.Sealer) (store.Store, error) {
	if o.Database != "" {
		return postgres.Open(ctx, o.Database, sealer)
	}
	return sqlite.Open(ctx, filepath.Join(o.DataDir, "slipway.db"), sealer)
}

// bootstrap creates the administrator when the store has no user yet and
// writes its token where only the server's user can read it.
func (s *Server) bootstrap(ctx context.Context) error {
	users, err := s.st.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return err
	}
	token := newToken("")
	path := filepath.Join(s.opts.DataDir, AdminTokenFile)
	// O_EXCL: an old token file would otherwise be mistaken for this one.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the administrator's token: %w (remove it if it is left from an earlier database)", err)
	}
	_, err = fmt.Fprintln(f, token)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("write the administrator's token %s: %w", path, err)
	}
	if _, err := s.st.CreateUser(ctx, store.User{Login: "admin", Admin: true}, token); err != nil {
		os.Remove(path)
		return err
	}
	fmt.Fprintf(s.opts.Log, "slipway server: created user admin; its API token is in %s\n", path)
	return nil
}

// newToken is a random token; 24 bytes make guessing hopeless, and the
// store keeps only a hash.
func newToken(prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return prefix + hex.EncodeToString(b)
}

// Store is the server's store.
func (s *Server) Store() store.Store { return s.st }

// Close closes the store.
func (s *Server) Close() error { return s.st.Close() }

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish (up to 10 s), and returns.
// The lease-expiry and sweep loops run meanwhile.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.opts.ExternalURL == "" {
		s.opts.ExternalURL = "http://" + ln.Addr().String()
	}
	if s.opts.RunnerAPI != nil {
		s.runner = s.opts.RunnerAPI(s.metrics.instrument(s.st), s.sealer, s.opts.ExternalURL)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	hs.RegisterOnShutdown(s.web.Shutdown) // open log streams would hold shutdown up
	hs.RegisterOnShutdown(func() { s.streamsOnce.Do(func() { close(s.streams) }) })
	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	go s.expireLeases(loopCtx)
	go s.sweep(loopCtx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		// Requests still running (a runner's long poll, a slow push) are
		// cut: the runner polls again, git reports the push failed.
		fmt.Fprintf(s.opts.Log, "slipway server: requests still running after 10 s are cut: %v\n", err)
		return hs.Close()
	}
	return nil
}

// expireLeases takes back the jobs of runners that stopped renewing.
func (s *Server) expireLeases(ctx context.Context) {
	t := time.NewTicker(s.opts.LeaseCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			jobs, err := s.st.ExpireLeases(ctx, now)
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(s.opts.Log, "slipway server: expire leases: %v\n", err)
			}
			for _, j := range jobs {
				fmt.Fprintf(s.opts.Log, "slipway server: job %d (%s): its runner's lease lapsed; now %s\n", j.ID, j.Name, j.Status)
			}
		}
	}
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("/api/v4/", s.runnerAPI())
	s.droneRoutes(mux)
	s.apiRoutes(mux)
	s.hookRoutes(mux)
	mux.Handle("POST /api/slipway/runners", s.authed(s.admin(s.createRunner)))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such API endpoint: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}))
	// Web interface: it owns "/", "/-/…", "/<ns>/<name>" and
	// "/<ns>/<name>/-/…" (web.Owns); git keeps /<ns>/<name>.git/….
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if web.Owns(r.URL.Path) {
			s.web.ServeHTTP(w, r)
			return
		}
		s.serveGit(w, r)
	})
	return mux
}

// addRepo creates a repository hosted by the server, for the web
// interface's form.
func (s *Server) addRepo(ctx context.Context, u store.User, ns, name string) (store.Repo, error) {
	if err := checkName(ns, name); err != nil {
		return store.Repo{}, err
	}
	repo, err := s.st.CreateRepo(ctx, store.Repo{OwnerID: u.ID, Namespace: ns, Name: name, MaxRequeues: -1})
	if err != nil {
		return repo, err
	}
	return repo, s.initBare(ctx, ns, name)
}

func (s *Server) runnerAPI() http.Handler {
	if s.runner != nil {
		return s.runner
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the GitLab Runner API is not part of this server build", http.StatusNotFound)
	})
}
