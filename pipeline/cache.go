package pipeline

// Cache is one cache of a job (GitLab cache:): files of the workspace
// kept between runs of the same project under a key, restored before the
// job's steps and saved after them.
type Cache struct {
	Pos Pos `json:"pos"`
	// Key names the cache, variables expanded; when KeyFiles is set it
	// is computed by the runner from those files' contents instead.
	Key string `json:"key,omitempty"`
	// KeyFiles are workspace globs whose contents make the key, which
	// KeyPrefix (if any) then precedes ("prefix-hash").
	KeyFiles  []string `json:"key_files,omitempty"`
	KeyPrefix string   `json:"key_prefix,omitempty"`
	// FallbackKeys are tried in order when no cache has Key.
	FallbackKeys []string `json:"fallback_keys,omitempty"`
	// Paths are slash globs relative to the workspace, as for Artifacts.
	Paths []string `json:"paths,omitempty"`
	// Untracked: also every file that was not in the checkout.
	Untracked bool `json:"untracked,omitempty"`
	// Policy says whether the cache is restored, saved, or both.
	Policy CachePolicy `json:"policy,omitempty"`
	// When: after what the job did the cache is saved.
	When When `json:"when,omitempty"`
}

// CachePolicy is GitLab's cache:policy.
type CachePolicy string

const (
	// PullPush (the default): restore before, save after.
	PullPush CachePolicy = ""
	// Pull: restore only.
	Pull CachePolicy = "pull"
	// Push: save only.
	Push CachePolicy = "push"
)

// Pulls: the cache is restored before the job.
func (p CachePolicy) Pulls() bool { return p != Push }

// Pushes: the cache is saved after the job.
func (p CachePolicy) Pushes() bool { return p != Pull }
