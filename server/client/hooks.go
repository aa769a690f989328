package client

import "context"

// AddMirror makes a repository that mirrors cloneURL (an http(s) URL, or
// for administrators a path or file:// URL on the server) and builds on
// its push webhooks.
func (c *Client) AddMirror(ctx context.Context, slug, cloneURL string) (Repo, error) {
	var r Repo
	return r, c.call(ctx, "POST", slug, "", map[string]string{"clone_url": cloneURL}, &r)
}

// Hook is where a mirror's forge posts its push webhooks; Secret is sent
// only by SetHook.
type Hook struct {
	URL       string `json:"url"`
	Secret    string `json:"secret,omitempty"`
	SecretSet bool   `json:"secret_set"`
}

// SetHook sets a mirror's webhook secret: secret, or when empty a new
// random one, which the answer carries (and no later call shows).
func (c *Client) SetHook(ctx context.Context, slug, secret string) (Hook, error) {
	var h Hook
	var in any
	if secret != "" {
		in = map[string]string{"secret": secret}
	}
	return h, c.call(ctx, "POST", slug, "/hook", in, &h)
}

// Hook tells a mirror's webhook URL and whether a secret is set.
func (c *Client) Hook(ctx context.Context, slug string) (Hook, error) {
	var h Hook
	return h, c.call(ctx, "GET", slug, "/hook", nil, &h)
}

// DeleteHook removes a mirror's webhook secret: every webhook is refused
// until a new one is set.
func (c *Client) DeleteHook(ctx context.Context, slug string) error {
	return c.call(ctx, "DELETE", slug, "/hook", nil, nil)
}
