// Package web is slipway server's web interface: server-rendered
// html/template pages, a small plain-JavaScript file for live updates
// (server-sent events) and a style sheet, all embedded in the binary.
// Every page works without JavaScript; only the live updates need it.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the web interface.
type Options struct {
	Store store.Store
	// AddRepo creates a repository hosted by the server (the store row
	// and its bare git repository); the server owns git, so it says how.
	AddRepo func(ctx context.Context, owner store.User, namespace, name string) (store.Repo, error)
	// Hub wakes log streams and live pages when the store changes
	// (the server's store rings it: live.Notifying); nil: poll only.
	Hub *live.Hub
	// Poll is how often a log stream or a live page reads the store
	// without a wake-up (default: live.Follower's).
	Poll time.Duration
	// KeepAlive is how often an idle log stream sends a comment, so that
	// proxies keep it open (default 15 s).
	KeepAlive time.Duration
	// RestartBuild starts a new build of build number's commit (the
	// server's Server.RestartBuild); nil hides the restart button.
	RestartBuild func(ctx context.Context, repo store.Repo, number int64, by store.User) (store.Build, error)
	// MintRunnerToken registers a runner and answers its glrt- token;
	// nil hides the runners page's button.
	MintRunnerToken func(ctx context.Context, tags []string, runUntagged bool) (token string, err error)
	// BadgeKey signs the status badges' URLs, so a README can show one
	// without a signed-in user; nil: badges only for signed-in users.
	BadgeKey []byte
}

// Handler serves the web interface's paths (see Owns).
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	// done ends log streams when the server shuts down: a graceful
	// shutdown would otherwise wait for every open browser tab.
	done     chan struct{}
	doneOnce sync.Once
}

// New makes the web interface's handler.
func New(o Options) *Handler {
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	h := &Handler{opts: o, mux: http.NewServeMux(), pages: parsePages(), done: make(chan struct{})}
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /-/static/{file}", http.StripPrefix("/-/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /-/login", h.loginPage)
	h.mux.HandleFunc("POST /-/login", h.login)
	h.mux.HandleFunc("POST /-/logout", h.logout)
	h.mux.HandleFunc("GET /{$}", h.signedIn(h.repos))
	h.mux.HandleFunc("POST /-/repos", h.signedIn(h.addRepo))
	h.mux.HandleFunc("GET /-/runners", h.signedIn(h.runners))
	h.mux.HandleFunc("POST /-/runners", h.signedIn(h.mintRunner))
	h.mux.HandleFunc("GET /{ns}/{name}", h.withRepo(h.builds))
	h.mux.HandleFunc("GET /{ns}/{name}/-/events", h.withRepo(h.buildsEvents))
	h.mux.HandleFunc("GET /{ns}/{name}/-/builds/{number}", h.withRepo(h.build))
	h.mux.HandleFunc("GET /{ns}/{name}/-/builds/{number}/events", h.withRepo(h.buildEvents))
	h.mux.HandleFunc("POST /{ns}/{name}/-/builds/{number}/cancel", h.withRepo(h.manager(h.cancel)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/builds/{number}/restart", h.withRepo(h.manager(h.restart)))
	h.mux.HandleFunc("GET /{ns}/{name}/-/settings", h.withRepo(h.manager(h.settings)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/settings", h.withRepo(h.manager(h.saveSettings)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/secrets", h.withRepo(h.manager(h.addSecret)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/secrets/delete", h.withRepo(h.manager(h.deleteSecret)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/variables", h.withRepo(h.manager(h.addVariable)))
	h.mux.HandleFunc("POST /{ns}/{name}/-/variables/delete", h.withRepo(h.manager(h.deleteVariable)))
	h.mux.HandleFunc("GET /{ns}/{name}/-/jobs/{id}/log", h.withRepo(h.jobLog))
	h.mux.HandleFunc("GET /{ns}/{name}/-/jobs/{id}/log/stream", h.withRepo(h.stream))
	h.mux.HandleFunc("POST /{ns}/{name}/-/jobs/{id}/play", h.withRepo(h.manager(h.play)))
	return h
}

// Owns reports whether a request path is the web interface's: "/",
// "/-/…", "/<ns>/<name>", "/<ns>/<name>/badge.svg" and
// "/<ns>/<name>/-/…". Git's paths (/<ns>/<name>.git/…) and the APIs are
// not.
func Owns(path string) bool {
	if path == "/" || strings.HasPrefix(path, "/-/") {
		return true
	}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	switch {
	case len(parts) == 2:
		return parts[0] != "api" && !strings.HasSuffix(parts[1], ".git")
	case len(parts) == 3 && parts[2] == "badge.svg":
		return parts[0] != "api" && !strings.HasSuffix(parts[1], ".git")
	case len(parts) >= 3:
		return parts[0] != "api" && parts[2] == "-"
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
	// Badges are routed here: a mux pattern /{ns}/{name}/badge.svg
	// would collide with /-/static/{file}.
	if parts := strings.Split(r.URL.Path, "/"); len(parts) == 4 && parts[3] == "badge.svg" && parts[1] != "-" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "a badge is only read (GET)", http.StatusMethodNotAllowed)
			return
		}
		r.SetPathValue("ns", parts[1])
		r.SetPathValue("name", parts[2])
		h.badge(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Shutdown ends the open log streams (for http.Server.RegisterOnShutdown).
func (h *Handler) Shutdown() { h.doneOnce.Do(func() { close(h.done) }) }

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{"duration": duration, "short": short, "ago": ago, "firstLine": firstLine, "unixms": unixms,
		"mark": mark, "playOf": playOf}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	pages := map[string]*template.Template{}
	for _, p := range []string{"login", "repos", "builds", "build", "log", "settings", "runners"} {
		t := template.Must(layout.Clone())
		pages[p] = template.Must(t.ParseFS(templateFS, "templates/"+p+".html"))
	}
	return pages
}

// render answers a page; data's fields are the page's, plus User for
// the header.
func (h *Handler) render(w http.ResponseWriter, code int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := h.pages[page].ExecuteTemplate(w, "layout.html", data); err != nil {
		fmt.Fprintf(w, "<p>page error: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

// problem answers an error as a short page with the right status.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	var pe *pageError
	var se interface{ HTTPStatus() int }
	switch {
	case errors.As(err, &pe):
		code = pe.code
	case errors.As(err, &se):
		code = se.HTTPStatus()
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	}
	p := pageOf(r, http.StatusText(code))
	p.Error = err.Error()
	h.render(w, code, "login", p)
}

type pageError struct {
	code int
	msg  string
}

func (e *pageError) Error() string { return e.msg }

// page is what every page's data has: the header needs the user, and
// every form the session's token.
type page struct {
	User  *store.User
	CSRF  string
	Title string
	Error string
}

func pageOf(r *http.Request, title string) page {
	return page{User: userOf(r), CSRF: csrfOf(r), Title: title}
}

// mayAccess: administrators, the owner, and the users it was given to
// (the same rule as the API's).
func (h *Handler) mayAccess(ctx context.Context, u store.User, repo store.Repo) (bool, error) {
	if u.Admin || u.ID == repo.OwnerID {
		return true, nil
	}
	repos, err := h.opts.Store.ListRepos(ctx, u.ID)
	return slices.ContainsFunc(repos, func(r store.Repo) bool { return r.ID == repo.ID }), err
}

func duration(start, end time.Time) string {
	if start.IsZero() {
		return "–"
	}
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(start).Round(time.Second).String()
}

// unixms is a time for the page's script (durations that tick), 0 for none.
func unixms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func short(commit string) string { return commit[:min(10, len(commit))] }

func firstLine(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return line
}
