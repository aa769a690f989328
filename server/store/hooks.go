package store

import "context"

// Hooks are the webhook secrets of mirrored repositories: the key of
// GitHub's and Gitea's HMAC signatures and GitLab's X-Gitlab-Token. They
// are sealed at rest like secrets (an HMAC needs the key itself, so a
// hash would not do).
type Hooks interface {
	// SetHookSecret sets or replaces the repository's webhook secret.
	SetHookSecret(ctx context.Context, repoID int64, secret string) error
	// HookSecret is the repository's webhook secret; ErrNotFound when none
	// is set. Only the webhook handler may use it.
	HookSecret(ctx context.Context, repoID int64) (string, error)
	// DeleteHookSecret removes it, so that every webhook is refused.
	DeleteHookSecret(ctx context.Context, repoID int64) error
}
