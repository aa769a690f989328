package client

import (
	"context"
	"net/url"
)

// Repo is a repository as the server shows it.
type Repo struct {
	Slug    string `json:"slug"`
	HTTPURL string `json:"git_http_url"`
	Config  string `json:"config_path"`
	Trusted bool   `json:"trusted"`
	// CloneURL is the remote a mirror fetches from; empty for a
	// repository hosted by the server.
	CloneURL string `json:"clone_url,omitempty"`
}

// AddRepo makes a repository hosted by the server (an existing one is
// answered as it is).
func (c *Client) AddRepo(ctx context.Context, slug string) (Repo, error) {
	var r Repo
	return r, c.call(ctx, "POST", slug, "", nil, &r)
}

// Repos lists the repositories the user owns or was given.
func (c *Client) Repos(ctx context.Context) ([]Repo, error) {
	var rs []Repo
	return rs, c.do(ctx, "GET", "/api/user/repos", nil, &rs)
}

// DeleteRepo removes a repository with its builds, secrets and variables.
func (c *Client) DeleteRepo(ctx context.Context, slug string) error {
	return c.call(ctx, "DELETE", slug, "", nil, nil)
}

// SetTrusted marks a repository trusted or not (administrators only).
func (c *Client) SetTrusted(ctx context.Context, slug string, trusted bool) (Repo, error) {
	var r Repo
	return r, c.call(ctx, "PATCH", slug, "", map[string]bool{"trusted": trusted}, &r)
}

// Secret is a repository secret; the server never sends a value back.
type Secret struct {
	Name        string `json:"name"`
	Data        string `json:"data,omitempty"`
	PullRequest bool   `json:"pull_request"`
}

// AddSecret adds or replaces a secret.
func (c *Client) AddSecret(ctx context.Context, slug string, s Secret) error {
	return c.call(ctx, "POST", slug, "/secrets", s, nil)
}

// Secrets lists a repository's secrets' names.
func (c *Client) Secrets(ctx context.Context, slug string) ([]Secret, error) {
	var ss []Secret
	return ss, c.call(ctx, "GET", slug, "/secrets", nil, &ss)
}

// DeleteSecret removes a secret.
func (c *Client) DeleteSecret(ctx context.Context, slug, name string) error {
	return c.call(ctx, "DELETE", slug, "/secrets/"+url.PathEscape(name), nil, nil)
}

// Variable is a repository variable; a masked one comes back without its
// value.
type Variable struct {
	Name   string `json:"name"`
	Value  string `json:"value,omitempty"`
	Masked bool   `json:"masked"`
}

// AddVariable adds or replaces a variable.
func (c *Client) AddVariable(ctx context.Context, slug string, v Variable) error {
	return c.call(ctx, "POST", slug, "/variables", v, nil)
}

// Variables lists a repository's variables.
func (c *Client) Variables(ctx context.Context, slug string) ([]Variable, error) {
	var vs []Variable
	return vs, c.call(ctx, "GET", slug, "/variables", nil, &vs)
}

// DeleteVariable removes a variable.
func (c *Client) DeleteVariable(ctx context.Context, slug, name string) error {
	return c.call(ctx, "DELETE", slug, "/variables/"+url.PathEscape(name), nil, nil)
}
