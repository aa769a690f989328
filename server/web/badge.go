package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// Status badges: /<ns>/<name>/badge.svg?ref=main is the status of the
// last build of that branch (or tag, or full ref) as an SVG.
//
// Repositories are private to their owners and those they were given
// to, so a badge is not public: it is served to a signed-in user who may
// see the repository, or to anyone with the badge's key (&key=…, an HMAC
// of the repository's id under Options.BadgeKey). The settings page shows
// the URL with the key, for a README; a badge leaks only a status.

func (h *Handler) badgeKeyFor(repo store.Repo) string {
	if h.opts.BadgeKey == nil {
		return ""
	}
	m := hmac.New(sha256.New, h.opts.BadgeKey)
	fmt.Fprintf(m, "badge %d", repo.ID)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// badgeURL is the path of a repository's badge for ref, with its key.
func (h *Handler) badgeURL(repo store.Repo, ref string) string {
	q := url.Values{"ref": {ref}}
	if k := h.badgeKeyFor(repo); k != "" {
		q.Set("key", k)
	}
	return repoPath(repo) + "/badge.svg?" + q.Encode()
}

func (h *Handler) badge(w http.ResponseWriter, r *http.Request) {
	repo, err := h.opts.Store.Repo(r.Context(), r.PathValue("ns"), r.PathValue("name"))
	key := h.badgeKeyFor(repo)
	if err == nil && (key == "" || subtle.ConstantTimeCompare([]byte(r.FormValue("key")), []byte(key)) != 1) {
		// Without the key, only a signed-in user who may see it.
		ok := false
		if c, cerr := r.Cookie(cookieName); cerr == nil {
			if u, uerr := h.opts.Store.SessionUser(r.Context(), c.Value, time.Now()); uerr == nil {
				ok, err = h.mayAccess(r.Context(), u, repo)
			}
		}
		if err == nil && !ok {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		// The same answer for a missing repository and a refused one.
		http.Error(w, "no such badge (a badge needs its key, or a signed-in user who may see the repository)", http.StatusNotFound)
		return
	}
	status, err := h.refStatus(r, repo, r.FormValue("ref"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	fmt.Fprint(w, badgeSVG(status))
}

// buildsScanned bounds how far back a badge looks for the ref's build.
const buildsScanned = 200

// refStatus is the status of the newest build of ref ("" any ref), or
// "unknown".
func (h *Handler) refStatus(r *http.Request, repo store.Repo, ref string) (string, error) {
	want := func(b store.Build) bool {
		return ref == "" || b.Ref == ref || b.Ref == "refs/heads/"+ref || b.Ref == "refs/tags/"+ref
	}
	for page := 1; page <= buildsScanned/50; page++ {
		builds, err := h.opts.Store.ListBuilds(r.Context(), repo.ID, page, 50)
		if err != nil {
			return "", err
		}
		for _, b := range builds {
			if want(b) {
				return string(b.Status), nil
			}
		}
		if len(builds) < 50 {
			break
		}
	}
	return "unknown", nil
}

var badgeColours = map[string]string{
	"success": "#1a7f37", "failure": "#cf222e", "error": "#cf222e", "killed": "#59636e",
	"running": "#9a6700", "pending": "#9a6700",
}

// badgeSVG draws "build | status" in the shape READMEs' badges have.
func badgeSVG(status string) string {
	colour, ok := badgeColours[status]
	if !ok {
		colour = "#59636e"
	}
	const left = 40
	right := 12 + 7*len(status)
	w := left + right
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="build: %s">`, w, status)
	fmt.Fprintf(&b, `<title>build: %s</title><rect width="%d" height="20" rx="3" fill="#555"/>`, status, w)
	fmt.Fprintf(&b, `<rect x="%d" width="%d" height="20" rx="3" fill="%s"/><rect x="%d" width="4" height="20" fill="%s"/>`, left, right, colour, left, colour)
	fmt.Fprintf(&b, `<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`)
	fmt.Fprintf(&b, `<text x="6" y="14">build</text><text x="%d" y="14">%s</text></g></svg>`, left+6, status)
	return b.String()
}
