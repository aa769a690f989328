package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/server/store"
)

// errNoTags: a runner with neither tags nor run_untagged takes no job.
var errNoTags = errors.New("a runner with no tags must run untagged jobs, or it takes no job at all")

// mintRunner registers a runner under a new glrt- token (the API's POST
// /api/slipway/runners and the web interface's runners page).
func (s *Server) mintRunner(ctx context.Context, rn store.Runner) (store.Runner, string, error) {
	rn.Tags = slices.DeleteFunc(rn.Tags, func(t string) bool { return strings.TrimSpace(t) == "" })
	if len(rn.Tags) == 0 && !rn.RunUntagged {
		return rn, "", errNoTags
	}
	token := newToken("glrt-")
	rn, err := s.st.CreateRunner(ctx, rn, token)
	return rn, token, err
}

// mintRunnerToken is web.Options.MintRunnerToken.
func (s *Server) mintRunnerToken(ctx context.Context, tags []string, runUntagged bool) (string, error) {
	_, token, err := s.mintRunner(ctx, store.Runner{Description: "minted in the web interface", Tags: tags, RunUntagged: runUntagged})
	return token, err
}

// badgeKey signs the status badges' URLs (web.Options.BadgeKey). It is
// derived from the secret key, so every server sharing a store (and so
// the key) accepts the same URLs, and it changes when the key does.
func (s *Server) badgeKey() []byte {
	key, err := os.ReadFile(filepath.Join(s.opts.DataDir, "secret.key"))
	if err != nil {
		return nil // badges then need a signed-in user
	}
	sum := sha256.Sum256(append([]byte("slipway status badge\x00"), key...))
	return sum[:]
}

// HTTPStatus lets the web interface answer the server's errors (such as
// RestartBuild's) with their status.
func (e *statusError) HTTPStatus() int { return e.code }
