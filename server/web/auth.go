package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

// cookieName holds the API token the user signed in with. The cookie is
// HttpOnly (no script reads it) and SameSite=Strict (no other site's form
// posts with it), which is what keeps the forms safe from cross-site use.
const cookieName = "slipway_token"

type userKey struct{}

func userOf(r *http.Request) *store.User {
	u, _ := r.Context().Value(userKey{}).(*store.User)
	return u
}

// signedIn sends a visitor without a valid token cookie to the sign-in
// page, and back here afterwards.
func (h *Handler) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		var u store.User
		if err == nil {
			u, err = h.opts.Store.UserByToken(r.Context(), c.Value)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, http.ErrNoCookie) {
			http.Redirect(w, r, "/-/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			h.problem(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), userKey{}, &u)))
	}
}

type loginData struct {
	page
	Next string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login", loginData{page: page{Title: "Sign in"}, Next: safeNext(r.FormValue("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	if _, err := h.opts.Store.UserByToken(r.Context(), token); err != nil {
		msg := "That token is not known. Use an API token, such as the one in the server's admin.token file."
		if !errors.Is(err, store.ErrNotFound) {
			msg = err.Error()
		}
		h.render(w, http.StatusUnauthorized, "login", loginData{page: page{Title: "Sign in", Error: msg}, Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/-/login", http.StatusSeeOther)
}

// safeNext keeps the after-sign-in target on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
