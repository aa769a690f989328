package agent

import (
	"net/url"
	"strings"
)

// cacheProject is what a job's caches are kept per on this runner's
// engine: its repository, without the credentials a job's repo_url
// carries (they would end up in labels). "" when there is no URL: the
// runner then keeps them per checkout.
func cacheProject(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Host + strings.TrimSuffix(u.Path, ".git")
}
