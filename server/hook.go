package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipway-ci/slipway/server/store"
)

// Push webhooks of mirrored repositories: GitHub, Gitea and GitLab post
// a push's payload to /api/hook/<ns>/<name>, signed with (or carrying)
// the repository's webhook secret. A valid push fetches the mirror and
// builds the pushed commit; anything else is refused with a 4xx and a
// reason, before anything is fetched or stored.

// maxHookBody bounds a payload. A push's lists at most 20 commits on
// GitHub and GitLab, far below this.
const maxHookBody = 5 << 20

func (s *Server) hookRoutes(mux *http.ServeMux) {
	const repo = "/api/repos/{ns}/{name}/hook"
	mux.HandleFunc("POST /api/hook/{ns}/{name}", s.webhook)
	mux.Handle("POST "+repo, s.authed(s.withRepo(s.setHook)))
	mux.Handle("GET "+repo, s.authed(s.withRepo(s.getHook)))
	mux.Handle("DELETE "+repo, s.authed(s.withRepo(s.deleteHook)))
}

// hookSource is a forge's way of naming and signing its webhooks.
type hookSource struct {
	name        string
	eventHeader string
	// deliveryHeader holds the delivery's id, the same when the forge
	// sends it again.
	deliveryHeader string
	pushEvents     []string // the event header's values for a push
	verify         func(h http.Header, body []byte, secret string) error
}

var hookSources = []hookSource{
	// Gitea sends X-GitHub-Event and X-Hub-Signature-256 too (and
	// X-Gogs-Event): look for its own header first.
	{name: "Gitea", eventHeader: "X-Gitea-Event", deliveryHeader: "X-Gitea-Delivery", pushEvents: []string{"push"},
		verify: hmacHeader("X-Gitea-Signature", "")},
	{name: "GitHub", eventHeader: "X-GitHub-Event", deliveryHeader: "X-GitHub-Delivery", pushEvents: []string{"push"},
		verify: hmacHeader("X-Hub-Signature-256", "sha256=")},
	{name: "GitLab", eventHeader: "X-Gitlab-Event", deliveryHeader: "X-Gitlab-Event-UUID", pushEvents: []string{"Push Hook", "Tag Push Hook"},
		verify: gitlabToken},
}

// hmacHeader checks a hex HMAC-SHA256 of the body, keyed with the secret,
// in header after prefix.
func hmacHeader(header, prefix string) func(http.Header, []byte, string) error {
	return func(h http.Header, body []byte, secret string) error {
		v := h.Get(header)
		if v == "" {
			return fmt.Errorf("no %s header: set the webhook's secret to the repository's (slipway repo hook)", header)
		}
		got, err := hex.DecodeString(strings.TrimPrefix(v, prefix))
		if err != nil || !strings.HasPrefix(v, prefix) {
			return fmt.Errorf("%s is not %shex", header, prefix)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return fmt.Errorf("%s does not match the payload signed with the repository's webhook secret", header)
		}
		return nil
	}
}

// gitlabToken checks GitLab's shared secret, in constant time (over
// hashes, so that not even the length is told).
func gitlabToken(h http.Header, _ []byte, secret string) error {
	v := h.Get("X-Gitlab-Token")
	if v == "" {
		return errors.New("no X-Gitlab-Token header: set the webhook's secret token to the repository's (slipway repo hook)")
	}
	a, b := sha256.Sum256([]byte(v)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return errors.New("X-Gitlab-Token is not the repository's webhook secret")
	}
	return nil
}

// pushPayload is what slipway reads of GitHub's, Gitea's and GitLab's
// push payloads: the same names, but for who pushed.
type pushPayload struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"` // GitHub
	Sender  struct {
		Login string `json:"login"` // GitHub, Gitea
	} `json:"sender"`
	UserUsername string `json:"user_username"` // GitLab
}

var commitHash = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// pushOf checks a push payload; ignore says why a valid one builds
// nothing (a deleted branch).
func pushOf(body []byte, src string) (p pushPayload, ignore string, err error) {
	if err := json.Unmarshal(body, &p); err != nil {
		return p, "", fmt.Errorf("the body is not a %s push payload's JSON: %v", src, err)
	}
	ref := plumbing.ReferenceName(p.Ref)
	switch {
	case !(ref.IsBranch() || ref.IsTag()) || ref.Short() == "" || strings.Contains(p.Ref, ".."):
		return p, "", fmt.Errorf("ref %q: want refs/heads/<branch> or refs/tags/<tag>", p.Ref)
	case !commitHash.MatchString(p.After):
		return p, "", fmt.Errorf("after %q: not a commit hash", p.After)
	case p.Before != "" && !commitHash.MatchString(p.Before):
		return p, "", fmt.Errorf("before %q: not a commit hash", p.Before)
	case p.Deleted || plumbing.NewHash(p.After).IsZero():
		return p, p.Ref + " was deleted: nothing to build", nil
	}
	return p, "", nil
}

// webhook answers a forge's push webhook.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, fmt.Sprintf("a webhook payload may have at most %d bytes", maxHookBody), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "read the payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	src, event, ok := sourceOf(r.Header)
	if !ok {
		http.Error(w, "not a GitHub, Gitea or GitLab webhook: no X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event header", http.StatusBadRequest)
		return
	}
	repo, err := s.hookRepo(r, src, body)
	if err != nil {
		httpError(w, err)
		return
	}
	switch {
	case src.name == "GitHub" && event == "ping":
		io.WriteString(w, "pong: the signature is right; pushes to a branch or a tag will build\n")
		return
	case !slices.Contains(src.pushEvents, event):
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: %s event %q (slipway builds pushes)\n", src.name, event)
		return
	}
	p, ignore, err := pushOf(body, src.name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ignore != "" {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "ignored: "+ignore+"\n")
		return
	}
	s.buildDelivery(w, r, repo, p, src)
}

func sourceOf(h http.Header) (hookSource, string, bool) {
	for _, src := range hookSources {
		if ev := h.Get(src.eventHeader); ev != "" {
			return src, ev, true
		}
	}
	return hookSource{}, "", false
}

// hookRepo is the mirror the path names, once the request has proved it
// knows the mirror's webhook secret.
func (s *Server) hookRepo(r *http.Request, src hookSource, body []byte) (store.Repo, error) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	repo, err := s.st.Repo(r.Context(), ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errorf(http.StatusNotFound, "no repository %s/%s on this server", ns, name)
	}
	if err != nil {
		return repo, err
	}
	if repo.CloneURL == "" {
		return repo, errorf(http.StatusConflict, "%s is hosted by this server, not a mirror: a git push to it builds", repo.Slug())
	}
	secret, err := s.st.HookSecret(r.Context(), repo.ID)
	if errors.Is(err, store.ErrNotFound) {
		return repo, errorf(http.StatusForbidden, "%s has no webhook secret yet: set one with slipway repo hook %s", repo.Slug(), repo.Slug())
	}
	if err != nil {
		return repo, err
	}
	if err := src.verify(r.Header, body, secret); err != nil {
		return repo, errorf(http.StatusUnauthorized, "%s webhook: %v", src.name, err)
	}
	return repo, nil
}

// buildHook fetches the mirror (if it lacks the pushed commit) and builds
// the push as a push to the server would be built.
func (s *Server) buildHook(r *http.Request, repo store.Repo, p pushPayload, src string) (store.Build, error) {
	ref, after := plumbing.ReferenceName(p.Ref), plumbing.NewHash(p.After)
	if err := s.fetchFor(r.Context(), repo, after, ref); err != nil {
		return store.Build{}, err
	}
	sender := p.Sender.Login
	if sender == "" {
		sender = p.UserUsername
	}
	b, err := s.buildPush(r.Context(), push{repo: repo, ref: ref, sha: after, before: plumbing.NewHash(p.Before), sender: sender})
	if err == nil {
		fmt.Fprintf(s.opts.Log, "slipway server: %s: build %d of %s %.8s on a %s webhook: %s\n", repo.Slug(), b.Number, ref.Short(), b.Commit, src, b.Status)
	}
	return b, err
}

// Hook is the answer of the hook endpoints: where to point the forge's
// webhook, and the secret (only in the answer that sets it).
type Hook struct {
	URL       string `json:"url"`
	Secret    string `json:"secret,omitempty"`
	SecretSet bool   `json:"secret_set"`
}

func (s *Server) hookURL(repo store.Repo) string {
	return s.opts.ExternalURL + "/api/hook/" + repo.Slug()
}

// setHook sets a mirror's webhook secret: the one given, or a new random
// one. It is shown in this answer and never again.
func (s *Server) setHook(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	var in struct {
		Secret string `json:"secret"`
	}
	if r.ContentLength != 0 && !readJSON(w, r, &in, "a webhook secret") {
		return
	}
	if repo.CloneURL == "" {
		httpError(w, errorf(http.StatusConflict, "%s is hosted by this server, not a mirror: a git push to it builds, no webhook needed", repo.Slug()))
		return
	}
	if in.Secret == "" {
		in.Secret = newToken("")
	}
	if err := s.st.SetHookSecret(r.Context(), repo.ID, in.Secret); err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Hook{URL: s.hookURL(repo), Secret: in.Secret, SecretSet: true})
}

func (s *Server) getHook(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	_, err := s.st.HookSecret(r.Context(), repo.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Hook{URL: s.hookURL(repo), SecretSet: err == nil})
}

func (s *Server) deleteHook(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	if err := s.st.DeleteHookSecret(r.Context(), repo.ID); err != nil {
		httpError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
