package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// printCaches shows each cache of the job: key, policy, paths.
func printCaches(w io.Writer, j *Job) {
	for _, c := range j.Caches {
		fmt.Fprintf(w, "    cache %s (%s): %s\n", cacheKeyOf(c), cachePolicy(c.Policy), cachePaths(c))
	}
}

// cacheKeyOf is the key as the plan knows it; a key: files key is
// computed when the job runs.
func cacheKeyOf(c *pipeline.Cache) string {
	if len(c.KeyFiles) == 0 {
		return c.Key
	}
	key := "hash of " + strings.Join(c.KeyFiles, ", ")
	if c.KeyPrefix != "" {
		key = c.KeyPrefix + "-(" + key + ")"
	}
	return key
}

func cachePolicy(p pipeline.CachePolicy) string {
	if p == pipeline.PullPush {
		return "pull-push"
	}
	return string(p)
}

func cachePaths(c *pipeline.Cache) string {
	what := strings.Join(c.Paths, " ")
	if c.Untracked {
		what = strings.TrimSpace(what + " (untracked files)")
	}
	return what
}
