// Package client calls a slipway server's API: the Drone REST endpoints
// the drone CLI uses and slipway's own beside them. It is what `slipway
// login|repo|secret|var|build` are made of, and knows nothing of the
// server's store: the JSON shapes here are the contract.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls one server as one user.
type Client struct {
	URL   string // the server, e.g. http://127.0.0.1:8080
	Token string // an API token
	// HTTP is the client to use (default http.DefaultClient).
	HTTP *http.Client
}

// Error is an answer other than the one expected, with the server's reason.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("server: %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// maxAnswer bounds a JSON answer read into memory.
const maxAnswer = 64 << 20

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// request sends one call; in, when not nil, is sent as JSON.
func (c *Client) request(ctx context.Context, method, path string, in any, header http.Header) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		js, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		reason, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &Error{Status: resp.StatusCode, Reason: strings.TrimSpace(string(reason))}
	}
	return resp, nil
}

// do sends one call and decodes its JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.request(ctx, method, path, in, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

// User is who a token stands for.
type User struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Admin bool   `json:"admin"`
}

// User answers who the token is.
func (c *Client) User(ctx context.Context) (User, error) {
	var u User
	return u, c.do(ctx, "GET", "/api/user", nil, &u)
}

// repoPath is the API path of a repository "owner/name".
func repoPath(slug string) (string, error) {
	ns, name, ok := strings.Cut(slug, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("repository %q: want owner/name", slug)
	}
	return "/api/repos/" + url.PathEscape(ns) + "/" + url.PathEscape(name), nil
}

// call is do on a path below a repository's.
func (c *Client) call(ctx context.Context, method, slug, below string, in, out any) error {
	p, err := repoPath(slug)
	if err != nil {
		return err
	}
	return c.do(ctx, method, p+below, in, out)
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
