package gitlabapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// noExpiry is the token_expires_at of a token that does not expire: with
// it gitlab-runner never calls runners/reset_authentication_token.
const noExpiry = "0001-01-01T00:00:00Z"

// runnerBody is what the runner calls send.
type runnerBody struct {
	Token       string `json:"token"`
	Description string `json:"description"`
	TagList     string `json:"tag_list"`
	RunUntagged *bool  `json:"run_untagged"`
	SystemID    string `json:"system_id"`
}

// registered is the answer to a registration or verification.
type registered struct {
	ID             int64  `json:"id"`
	Token          string `json:"token"`
	TokenExpiresAt string `json:"token_expires_at"`
}

// register is POST runners: a legacy registration with the registration
// token creates a runner with a fresh glrt- token.
func (h *handler) register(w http.ResponseWriter, r *http.Request) {
	var req runnerBody
	if !readJSON(w, r, &req) {
		return
	}
	tok := token(req.Token, r, "PRIVATE-TOKEN")
	if h.o.RegistrationToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(h.o.RegistrationToken)) != 1 {
		fail(w, http.StatusForbidden, "403 Forbidden: invalid registration token")
		return
	}
	// GitLab's default for a runner registered without tags is to run
	// untagged jobs; a runner with tags takes only tagged ones unless told.
	tags := splitTags(req.TagList)
	untagged := len(tags) == 0
	if req.RunUntagged != nil {
		untagged = *req.RunUntagged
	}
	glrt := "glrt-" + randomHex(20)
	run, err := h.st.CreateRunner(r.Context(), store.Runner{Description: req.Description, Tags: tags, RunUntagged: untagged}, glrt)
	if err != nil {
		internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, registered{ID: run.ID, Token: glrt, TokenExpiresAt: noExpiry})
}

// verify is POST runners/verify: the runner checks its glrt- token.
func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	run, tok, ok := h.runner(w, r, nil)
	if !ok {
		return
	}
	h.touch(r, run)
	writeJSON(w, http.StatusOK, registered{ID: run.ID, Token: tok, TokenExpiresAt: noExpiry})
}

// unregister is DELETE runners: the runner is removed.
func (h *handler) unregister(w http.ResponseWriter, r *http.Request) {
	run, _, ok := h.runner(w, r, nil)
	if !ok {
		return
	}
	if err := h.st.DeleteRunner(r.Context(), run.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unregisterManager is DELETE runners/managers: one machine of a runner
// leaves (gitlab-runner unregister with a glrt- token). slipway does not
// keep machines apart, so the runner and its token stay.
func (h *handler) unregisterManager(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.runner(w, r, nil); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}

// resetToken is POST runners/reset_authentication_token. Tokens never
// expire here, so gitlab-runner has no reason to call it; if it does, it
// keeps its token.
func (h *handler) resetToken(w http.ResponseWriter, r *http.Request) {
	_, tok, ok := h.runner(w, r, nil)
	if ok {
		writeJSON(w, http.StatusCreated, struct {
			Token          string `json:"token"`
			TokenExpiresAt string `json:"token_expires_at"`
		}{tok, noExpiry})
	}
}

// runner authenticates a runner call by its token, decoding the body into
// into (a *runnerBody when nil). It answers 403 for an unknown token.
func (h *handler) runner(w http.ResponseWriter, r *http.Request, into interface{ bodyToken() string }) (store.Runner, string, bool) {
	if into == nil {
		into = &runnerBody{}
	}
	if !readJSON(w, r, into) {
		return store.Runner{}, "", false
	}
	tok := token(into.bodyToken(), r, "RUNNER-TOKEN", "PRIVATE-TOKEN")
	if tok == "" {
		fail(w, http.StatusForbidden, "403 Forbidden: no runner token")
		return store.Runner{}, "", false
	}
	run, err := h.st.RunnerByToken(r.Context(), tok)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusForbidden, "403 Forbidden: unknown runner token")
		return store.Runner{}, "", false
	case err != nil:
		internal(w, r, err)
		return store.Runner{}, "", false
	}
	return run, tok, true
}

func (t *runnerBody) bodyToken() string { return t.Token }

// touch records that the runner was heard from; a failure only makes the
// contact time older, so it does not fail the call.
func (h *handler) touch(r *http.Request, run store.Runner) {
	_ = h.st.TouchRunner(r.Context(), run.ID, time.Now())
}

// splitTags reads gitlab-runner's tag_list, "a,b".
func splitTags(list string) []string {
	var tags []string
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return hex.EncodeToString(b)
}
