// Package gitlabapi is the GitLab Runner API (v4) of slipway's server: what
// a stock gitlab-runner 17.x, and slipway's own runner, call to register,
// take jobs, stream their logs and report how they ended
// (../shared/protocols/README.md has the calls and recorded traffic).
//
// Everything it knows is in the store: a job is claimed with a lease that
// every trace and status call renews. The one thing it keeps in memory is
// each running job's log masker (see trace.go), which it can rebuild.
package gitlabapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// Options configure the handler.
type Options struct {
	// RegistrationToken is the legacy registration token that POST
	// /runners accepts; empty refuses every legacy registration.
	RegistrationToken string
	// ExternalURL is the server's URL as runners reach it
	// (http://host:port); repositories are cloned from
	// ExternalURL/<namespace>/<name>.git.
	ExternalURL string
	// Lease is how long a claimed job stays the runner's without a trace
	// or status call (default 10 minutes).
	Lease time.Duration
	// PollTimeout is how long POST jobs/request waits for a job before it
	// answers 204 (default 50 s; gitlab-runner waits up to 10 minutes).
	PollTimeout time.Duration
	// MaxArtifacts bounds an uploaded artifacts archive (default 100 MiB,
	// GitLab's default); a bigger one is answered 413.
	MaxArtifacts int64
	// Sealer is the server's secret sealer; may be nil. Not used yet: the
	// store opens secrets itself.
	Sealer store.Sealer
}

// ForServer is server.Options.RunnerAPI for a real server: the handler
// made with the server's store, sealer and URL, accepting the legacy
// registration token registration (empty: glrt- tokens only).
func ForServer(registration string) func(store.Store, store.Sealer, string) http.Handler {
	return func(st store.Store, sealer store.Sealer, url string) http.Handler {
		return New(st, Options{RegistrationToken: registration, ExternalURL: url, Sealer: sealer})
	}
}

// ForServerWith is ForServer with more of the handler's options (the
// server's store, sealer and URL are filled in).
func ForServerWith(o Options) func(store.Store, store.Sealer, string) http.Handler {
	return func(st store.Store, sealer store.Sealer, url string) http.Handler {
		o.ExternalURL, o.Sealer = url, sealer
		return New(st, o)
	}
}

// Defaults of Options.
const (
	defaultLease       = 10 * time.Minute
	defaultPollTimeout = 50 * time.Second
)

// Limits on what a client may send: JSON calls are small; a trace chunk is
// what the runner buffered since its last call (gitlab-runner sends at most
// 1 MiB at once).
const (
	maxJSONBody  = 1 << 20
	maxTraceBody = 8 << 20
)

// handler serves the API.
type handler struct {
	st    store.Store
	o     Options
	mux   *http.ServeMux
	logs  *traces
	wake  *signal
	retry time.Duration // how often a waiting jobs/request tries to claim
}

// claimRetry is how often a waiting jobs/request asks the queue again
// without being woken. The store wakes waiters when this process makes a
// job pending (a push, a finished need, a requeue: store.Wakeups); the
// retry finds jobs queued by another server process sharing PostgreSQL.
const claimRetry = time.Second

// New is the handler of the API, to be mounted at /api/v4/ (with or
// without the prefix stripped).
func New(st store.Store, o Options) http.Handler {
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = defaultPollTimeout
	}
	if o.MaxArtifacts <= 0 {
		o.MaxArtifacts = defaultMaxArtifacts
	}
	o.ExternalURL = strings.TrimRight(o.ExternalURL, "/")
	h := &handler{st: st, o: o, mux: http.NewServeMux(), logs: newTraces(), wake: newSignal(), retry: claimRetry}
	h.routes()
	return h
}

func (h *handler) routes() {
	h.mux.HandleFunc("POST /runners", h.register)
	h.mux.HandleFunc("POST /runners/verify", h.verify)
	h.mux.HandleFunc("DELETE /runners", h.unregister)
	h.mux.HandleFunc("DELETE /runners/managers", h.unregisterManager)
	h.mux.HandleFunc("POST /runners/reset_authentication_token", h.resetToken)
	h.mux.HandleFunc("POST /jobs/request", h.request)
	h.mux.HandleFunc("PUT /jobs/{id}", h.update)
	h.mux.HandleFunc("PATCH /jobs/{id}/trace", h.trace)
	h.mux.HandleFunc("POST /jobs/{id}/artifacts", h.uploadArtifacts)
	h.mux.HandleFunc("GET /jobs/{id}/artifacts", h.downloadArtifacts)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "%s %s is not part of slipway's GitLab Runner API", r.Method, r.URL.Path)
	})
}

// ServeHTTP serves paths with or without the /api/v4 prefix, so that the
// server may mount the handler either way.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/v4"); ok && (rest == "" || rest[0] == '/') {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		r2.URL = &u
		r = r2
	}
	h.mux.ServeHTTP(w, r)
}

// message is GitLab's error body.
type message struct {
	Message string `json:"message"`
}

// fail answers status with a one-line reason.
func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, message{Message: fmt.Sprintf(format, args...)})
}

// internal answers 500 for a store error, and logs it: the client can do
// nothing about it but retry.
func internal(w http.ResponseWriter, r *http.Request, err error) {
	slog.Error("gitlab api", "method", r.Method, "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, "server error; try again later")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// readJSON decodes a JSON body of at most maxJSONBody bytes into v, or
// answers 400/413 and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, http.StatusRequestEntityTooLarge, "request body over %d bytes", maxJSONBody)
		return false
	case err != nil:
		fail(w, http.StatusBadRequest, "reading the request body: %v", err)
		return false
	}
	if len(data) == 0 {
		data = []byte("{}") // tokens may come in headers only
	}
	if err := json.Unmarshal(data, v); err != nil {
		fail(w, http.StatusBadRequest, "malformed JSON body: %v", err)
		return false
	}
	return true
}

// token is the body's token, else the first of the headers that is set:
// gitlab-runner sends it in the body and, depending on the call and its
// version, as PRIVATE-TOKEN, RUNNER-TOKEN or JOB-TOKEN.
func token(body string, r *http.Request, headers ...string) string {
	if body != "" {
		return body
	}
	for _, name := range headers {
		if v := r.Header.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// signal wakes every waiter at once: Wait returns a channel that is closed
// by the next Broadcast.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) Broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}
