package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

type userKey struct{}

// userOf is the user authed put in the request's context.
func userOf(r *http.Request) store.User {
	u, _ := r.Context().Value(userKey{}).(store.User)
	return u
}

// authed lets a request through only with a known API token
// (Authorization: Bearer), and puts its user in the request's context.
func (s *Server) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			http.Error(w, "no API token: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		u, err := s.userByToken(r.Context(), token)
		if err != nil {
			httpError(w, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// admin lets only administrators through; it goes inside authed.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !userOf(r).Admin {
			http.Error(w, "only administrators may do this", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	return token, ok && token != ""
}

// statusError carries the HTTP status an error should be answered with.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &statusError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) userByToken(ctx context.Context, token string) (store.User, error) {
	u, err := s.st.UserByToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return u, errorf(http.StatusUnauthorized, "unknown API token")
	}
	return u, err
}

// httpError answers err with its status and a one-line reason; an error
// the server did not expect is a 500 whose details stay in the log.
func httpError(w http.ResponseWriter, err error) {
	var se *statusError
	switch {
	case errors.As(err, &se):
		http.Error(w, se.msg, se.code)
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, store.ErrConflict):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		http.Error(w, "internal error: "+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusInternalServerError)
	}
}

// mayAccess reports whether u may see and change repo: administrators,
// the owner, and the users it was given to.
func (s *Server) mayAccess(ctx context.Context, u store.User, repo store.Repo) (bool, error) {
	if u.Admin || u.ID == repo.OwnerID {
		return true, nil
	}
	repos, err := s.st.ListRepos(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(repos, func(r store.Repo) bool { return r.ID == repo.ID }), nil
}

// repoFor finds namespace/name and checks that u may access it.
func (s *Server) repoFor(ctx context.Context, u store.User, ns, name string) (store.Repo, error) {
	repo, err := s.st.Repo(ctx, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errorf(http.StatusNotFound, "repository %s/%s not found", ns, name)
	}
	if err != nil {
		return repo, err
	}
	ok, err := s.mayAccess(ctx, u, repo)
	if err == nil && !ok {
		err = errorf(http.StatusForbidden, "%s may not access %s/%s", u.Login, ns, name)
	}
	return repo, err
}
