package client

import (
	"context"
	"net/url"
)

// PlayJob starts manual job (its name or its number in the build) of
// build n; the answer is the build, running again.
func (c *Client) PlayJob(ctx context.Context, slug string, n int64, job string) (Build, error) {
	var b Build
	return b, c.call(ctx, "POST", slug, "/builds/"+itoa(n)+"/jobs/"+url.PathEscape(job)+"/play", nil, &b)
}
