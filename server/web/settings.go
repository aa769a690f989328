package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

// The repository settings page: secrets (values never shown), variables
// (masked ones never shown again), the pipeline file and, for
// administrators, the trusted switch. Every change is a POST that
// answers with a redirect back here (so a reload does not repeat it) and
// a note of what was done.

type settingsData struct {
	page
	Repo      store.Repo
	Path      string
	Secrets   []store.Secret
	Variables []store.Variable
	Done      string
	Badge     string // the badge's path, for the page's image
	BadgeURL  string // the badge's whole URL, to copy into a README
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// notes are what the page says after a change (?done=).
var notes = map[string]string{
	"settings": "Settings saved.", "secret": "Secret saved.", "secret-deleted": "Secret deleted.",
	"variable": "Variable saved.", "variable-deleted": "Variable deleted.",
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	h.showSettings(w, r, repo, http.StatusOK, "")
}

func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request, repo store.Repo, code int, problem string) {
	secrets, err := h.opts.Store.ListSecrets(r.Context(), repo.ID)
	var vars []store.Variable
	if err == nil {
		vars, err = h.opts.Store.ListVariables(r.Context(), repo.ID)
	}
	if err != nil {
		h.problem(w, r, err)
		return
	}
	for i := range secrets {
		secrets[i].Value = "" // the store's lists leave it empty; never show one
	}
	for i := range vars {
		if vars[i].Masked {
			vars[i].Value = ""
		}
	}
	p := pageOf(r, "Settings · "+repo.Slug())
	p.Error = problem
	h.render(w, code, "settings", settingsData{page: p, Repo: repo, Path: repoPath(repo), Secrets: secrets, Variables: vars,
		Done: notes[r.FormValue("done")], Badge: h.badgeURL(repo, "main"), BadgeURL: siteURL(r) + h.badgeURL(repo, "main")})
}

func (h *Handler) saved(w http.ResponseWriter, r *http.Request, repo store.Repo, what string) {
	http.Redirect(w, r, repoPath(repo)+"/-/settings?done="+url.QueryEscape(what), http.StatusSeeOther)
}

// saveSettings writes the pipeline file path and, from an administrator,
// the trusted switch.
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	path := strings.TrimSpace(r.PostFormValue("config_path"))
	if strings.HasPrefix(path, "/") || slices.Contains(strings.Split(path, "/"), "..") {
		h.showSettings(w, r, repo, http.StatusBadRequest, "The pipeline file must be a path inside the repository.")
		return
	}
	repo.ConfigPath = path
	if userOf(r).Admin {
		repo.Trusted = r.PostFormValue("trusted") == "on"
	}
	if err := h.opts.Store.UpdateRepo(r.Context(), repo); err != nil {
		h.problem(w, r, err)
		return
	}
	h.saved(w, r, repo, "settings")
}

func (h *Handler) addSecret(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	s := store.Secret{Name: strings.TrimSpace(r.PostFormValue("name")), Value: r.PostFormValue("value"),
		PullRequest: r.PostFormValue("pull_request") == "on"}
	if !varName.MatchString(s.Name) || s.Value == "" {
		h.showSettings(w, r, repo, http.StatusBadRequest, "A secret needs a name of letters, digits and _ (not starting with a digit) and a value.")
		return
	}
	if err := h.opts.Store.PutSecret(r.Context(), repo.ID, s); err != nil {
		h.problem(w, r, err)
		return
	}
	h.saved(w, r, repo, "secret")
}

func (h *Handler) deleteSecret(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if err := h.opts.Store.DeleteSecret(r.Context(), repo.ID, r.PostFormValue("name")); err != nil {
		h.problem(w, r, err)
		return
	}
	h.saved(w, r, repo, "secret-deleted")
}

// addVariable follows GitLab's rule for masked values: eight characters
// or more on one line, or the masking in logs would hide too much or
// miss the value.
func (h *Handler) addVariable(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	v := store.Variable{Name: strings.TrimSpace(r.PostFormValue("name")), Value: r.PostFormValue("value"),
		Masked: r.PostFormValue("masked") == "on"}
	switch {
	case !varName.MatchString(v.Name):
		h.showSettings(w, r, repo, http.StatusBadRequest, "A variable's name is letters, digits and _, not starting with a digit.")
		return
	case v.Masked && (len(v.Value) < 8 || strings.ContainsAny(v.Value, "\r\n")):
		h.showSettings(w, r, repo, http.StatusBadRequest, "A masked variable's value must be at least 8 characters on one line.")
		return
	}
	if err := h.opts.Store.PutVariable(r.Context(), repo.ID, v); err != nil {
		h.problem(w, r, err)
		return
	}
	h.saved(w, r, repo, "variable")
}

func (h *Handler) deleteVariable(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if err := h.opts.Store.DeleteVariable(r.Context(), repo.ID, r.PostFormValue("name")); err != nil {
		h.problem(w, r, err)
		return
	}
	h.saved(w, r, repo, "variable-deleted")
}
