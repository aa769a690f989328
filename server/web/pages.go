package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

type repoRow struct {
	Repo  store.Repo
	Build *store.Build // the last build, nil before the first
}

type reposData struct {
	page
	Repos []repoRow
}

func (h *Handler) repos(w http.ResponseWriter, r *http.Request) {
	h.showRepos(w, r, http.StatusOK, "")
}

func (h *Handler) showRepos(w http.ResponseWriter, r *http.Request, code int, problem string) {
	u := userOf(r)
	owner := u.ID
	if u.Admin {
		owner = 0 // administrators see every repository
	}
	repos, err := h.opts.Store.ListRepos(r.Context(), owner)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	rows := make([]repoRow, len(repos))
	for i, repo := range repos {
		rows[i].Repo = repo
		last, err := h.opts.Store.ListBuilds(r.Context(), repo.ID, 1, 1)
		if err != nil {
			h.problem(w, r, err)
			return
		}
		if len(last) > 0 {
			rows[i].Build = &last[0]
		}
	}
	p := pageOf(r, "Repositories")
	p.Error = problem
	h.render(w, code, "repos", reposData{page: p, Repos: rows})
}

func (h *Handler) addRepo(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	if !u.Admin {
		h.showRepos(w, r, http.StatusForbidden, "Only administrators may add repositories.")
		return
	}
	ns, name := strings.TrimSpace(r.PostFormValue("namespace")), strings.TrimSpace(r.PostFormValue("name"))
	repo, err := h.opts.AddRepo(r.Context(), *u, ns, name)
	if errors.Is(err, store.ErrConflict) {
		h.showRepos(w, r, http.StatusConflict, fmt.Sprintf("%s/%s exists already.", ns, name))
		return
	}
	if err != nil {
		h.showRepos(w, r, http.StatusBadRequest, "Could not add the repository: "+err.Error())
		return
	}
	http.Redirect(w, r, repoPath(repo), http.StatusSeeOther)
}

func repoPath(r store.Repo) string {
	return "/" + url.PathEscape(r.Namespace) + "/" + url.PathEscape(r.Name)
}

// withRepo signs the user in, finds the repository of the path and checks
// that the user may see it.
func (h *Handler) withRepo(next func(http.ResponseWriter, *http.Request, store.Repo)) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request) {
		ns, name := r.PathValue("ns"), r.PathValue("name")
		repo, err := h.opts.Store.Repo(r.Context(), ns, name)
		if errors.Is(err, store.ErrNotFound) {
			err = &pageError{http.StatusNotFound, fmt.Sprintf("There is no repository %s/%s.", ns, name)}
		}
		if err == nil {
			var ok bool
			if ok, err = h.mayAccess(r.Context(), *userOf(r), repo); err == nil && !ok {
				// The same answer as a missing one: names are not leaked.
				err = &pageError{http.StatusNotFound, fmt.Sprintf("There is no repository %s/%s.", ns, name)}
			}
		}
		if err != nil {
			h.problem(w, r, err)
			return
		}
		next(w, r, repo)
	})
}

type buildsData struct {
	page
	Repo     store.Repo
	Path     string
	Builds   []store.Build
	PrevPage int    // 0: this is the first page
	NextPage int    // 0: no further page
	Live     string // the first page's live updates (event stream URL)
	Key      string // the state the page shows (liveKey)
	Manage   bool   // the user may open the settings
	Badge    string // the status badge's URL
}

const buildsPerPage = 25

func (h *Handler) builds(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	n, _ := strconv.Atoi(r.FormValue("page"))
	n = max(n, 1)
	d, err := h.buildsPage(r, repo, n)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	if n == 1 {
		d.Live = repoPath(repo) + "/-/events?key=" + url.QueryEscape(d.Key)
	}
	h.render(w, http.StatusOK, "builds", d)
}

func (h *Handler) buildsPage(r *http.Request, repo store.Repo, n int) (buildsData, error) {
	builds, err := h.opts.Store.ListBuilds(r.Context(), repo.ID, n, buildsPerPage+1)
	if err != nil {
		return buildsData{}, err
	}
	d := buildsData{page: pageOf(r, repo.Slug()), Repo: repo, Path: repoPath(repo), Builds: builds, PrevPage: n - 1,
		Manage: mayManage(*userOf(r), repo), Badge: h.badgeURL(repo, "main")}
	if len(builds) > buildsPerPage {
		d.Builds, d.NextPage = builds[:buildsPerPage], n+1
	}
	var key strings.Builder
	for _, b := range d.Builds {
		buildKey(&key, b)
	}
	d.Key = hashKey(key.String())
	return d, nil
}

type stage struct {
	Name string
	Jobs []store.Job
}

type buildData struct {
	page
	Repo    store.Repo
	Path    string
	Build   store.Build
	Stages  []stage
	Graph   graph
	Live    string // the event stream of the page's changes
	Key     string
	Manage  bool // cancel and restart buttons
	Restart bool
	Running bool // not finished: the cancel button
}

func (h *Handler) build(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	d, err := h.buildPage(r, repo)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	d.Live = fmt.Sprintf("%s/-/builds/%d/events?key=%s", d.Path, d.Build.Number, url.QueryEscape(d.Key))
	h.render(w, http.StatusOK, "build", d)
}

func (h *Handler) buildPage(r *http.Request, repo store.Repo) (buildData, error) {
	b, err := h.pathBuild(r, repo)
	var jobs []store.Job
	if err == nil {
		jobs, err = h.opts.Store.Jobs(r.Context(), b.ID)
	}
	if err != nil {
		return buildData{}, err
	}
	var key strings.Builder
	buildKey(&key, b)
	for _, j := range jobs {
		fmt.Fprintf(&key, "%d %s %d %d;", j.ID, j.Status, unixms(j.Started), unixms(j.Finished))
	}
	manage := mayManage(*userOf(r), repo)
	return buildData{page: pageOf(r, fmt.Sprintf("%s #%d", repo.Slug(), b.Number)),
		Repo: repo, Path: repoPath(repo), Build: b, Stages: byStage(jobs), Graph: layout(jobs, repoPath(repo)),
		Key: hashKey(key.String()), Manage: manage, Restart: manage && h.opts.RestartBuild != nil, Running: !finished(b.Status)}, nil
}

// buildKey writes what a build shows that changes as it runs.
func buildKey(w *strings.Builder, b store.Build) {
	fmt.Fprintf(w, "%d %s %d %d;", b.ID, b.Status, unixms(b.Started), unixms(b.Finished))
}

func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// mayManage: who may cancel, restart and change a repository's settings
// (administrators and the owner; users it was given to only look).
func mayManage(u store.User, repo store.Repo) bool { return u.Admin || u.ID == repo.OwnerID }

// manager lets only those who may manage the repository through.
func (h *Handler) manager(next func(http.ResponseWriter, *http.Request, store.Repo)) func(http.ResponseWriter, *http.Request, store.Repo) {
	return func(w http.ResponseWriter, r *http.Request, repo store.Repo) {
		if !mayManage(*userOf(r), repo) {
			h.problem(w, r, &pageError{http.StatusForbidden, "Only administrators and the repository's owner may do this."})
			return
		}
		next(w, r, repo)
	}
}

// byStage groups jobs by stage, in the order the stages first appear.
func byStage(jobs []store.Job) []stage {
	var out []stage
	for _, j := range jobs {
		if len(out) == 0 || out[len(out)-1].Name != j.Stage {
			out = append(out, stage{Name: j.Stage})
		}
		out[len(out)-1].Jobs = append(out[len(out)-1].Jobs, j)
	}
	return out
}

// notFound turns a missing row or a number that does not parse into a 404
// that says what was missing.
func notFound(err error, format string, args ...any) error {
	var ne *strconv.NumError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &ne) {
		return &pageError{http.StatusNotFound, fmt.Sprintf(format, args...)}
	}
	return err
}

// repoJob finds the job of the path and checks that it belongs to repo.
func (h *Handler) repoJob(r *http.Request, repo store.Repo) (store.Job, store.Build, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var job store.Job
	var b store.Build
	if err == nil {
		job, err = h.opts.Store.Job(r.Context(), id)
	}
	if err == nil {
		b, err = h.opts.Store.BuildByID(r.Context(), job.BuildID)
	}
	if err == nil && b.RepoID != repo.ID {
		err = store.ErrNotFound
	}
	return job, b, notFound(err, "There is no job %s in %s.", r.PathValue("id"), repo.Slug())
}
