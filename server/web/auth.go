package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// cookieName holds a random session id (store.Sessions keeps its hash),
// never the API token the user signed in with: a stolen cookie dies with
// the session, and signing out ends it on the server too. The cookie is
// HttpOnly (no script reads it) and SameSite=Strict.
const cookieName = "slipway_session"

// sessionLife is how long a sign-in lasts.
const sessionLife = 14 * 24 * time.Hour

type userKey struct{}

// visitor is the signed-in user of a request and its session's form token.
type visitor struct {
	user store.User
	csrf string
}

func userOf(r *http.Request) *store.User {
	if v, ok := r.Context().Value(userKey{}).(*visitor); ok {
		return &v.user
	}
	return nil
}

func csrfOf(r *http.Request) string {
	if v, ok := r.Context().Value(userKey{}).(*visitor); ok {
		return v.csrf
	}
	return ""
}

// csrfToken is the token every form of a session carries. It is derived
// from the session id, which no other site can read (HttpOnly cookie), so
// a cross-site form cannot know it; SameSite=Strict is the second lock.
func csrfToken(session string) string {
	sum := sha256.Sum256([]byte("slipway form\x00" + session))
	return hex.EncodeToString(sum[:16])
}

// signedIn sends a visitor without a valid session to the sign-in page,
// and back here afterwards. A POST must carry the session's form token
// and, when the browser says where it comes from, come from this site.
func (h *Handler) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		var u store.User
		if err == nil {
			u, err = h.opts.Store.SessionUser(r.Context(), c.Value, time.Now())
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, http.ErrNoCookie) {
			if r.Method != http.MethodGet {
				h.problem(w, r, &pageError{http.StatusForbidden, "Your session has ended: sign in again, then repeat this."})
				return
			}
			http.Redirect(w, r, "/-/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			h.problem(w, r, err)
			return
		}
		v := &visitor{user: u, csrf: csrfToken(c.Value)}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, v))
		if r.Method == http.MethodPost && !sameSite(r, v.csrf) {
			h.problem(w, r, &pageError{http.StatusForbidden, "This form did not come from this site's page (its form token is missing or wrong). Reload the page and try again."})
			return
		}
		next(w, r)
	}
}

// sameSite checks a POST's form token and its Origin header.
func sameSite(r *http.Request, csrf string) bool {
	return sameOrigin(r) && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(csrf)) == 1
}

// sameOrigin: a request whose browser says it comes from another site is
// refused (signing in and out have no session token to check yet).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

type loginData struct {
	page
	Next string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login", loginData{page: page{Title: "Sign in"}, Next: safeNext(r.FormValue("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.problem(w, r, &pageError{http.StatusForbidden, "Sign in on this site's own page."})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	u, err := h.opts.Store.UserByToken(r.Context(), token)
	if err != nil {
		msg := "That token is not known. Use an API token, such as the one in the server's admin.token file."
		if !errors.Is(err, store.ErrNotFound) {
			msg = err.Error()
		}
		h.render(w, http.StatusUnauthorized, "login", loginData{page: page{Title: "Sign in", Error: msg}, Next: next})
		return
	}
	id := newSessionID()
	if err := h.opts.Store.CreateSession(r.Context(), id, u.ID, time.Now().Add(sessionLife)); err != nil {
		h.problem(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		MaxAge: int(sessionLife / time.Second), SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server, then in the browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.problem(w, r, &pageError{http.StatusForbidden, "Sign out on this site's own page."})
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if err := h.opts.Store.DeleteSession(r.Context(), c.Value); err != nil {
			h.problem(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/-/login", http.StatusSeeOther)
}

func newSessionID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// safeNext keeps the after-sign-in target on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
