package engine

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels of a cache. A cache outlives the run that saved it, so it
// carries none of the run's labels (LabelRun): gc and Destroy leave it
// alone, and only `slipway cache rm` removes it.
const (
	LabelCache        = "slipway.cache"         // "1" on every cache object
	LabelCacheProject = "slipway.cache.project" // the project it belongs to
	LabelCacheKey     = "slipway.cache.key"     // the cache key
	LabelCacheSize    = "slipway.cache.size"    // bytes of file content saved
	LabelCacheSaved   = "slipway.cache.saved"   // when, RFC 3339
)

// CacheRef names a cache: a project's cache under a key.
type CacheRef struct {
	Project, Key string
}

// CacheInfo is a cache as listed.
type CacheInfo struct {
	CacheRef
	// ID is the engine's name for it (a volume name), for removal.
	ID    string
	Size  int64
	Saved time.Time
}

// ErrCacheNotFound is returned (wrapped) by RestoreCache when the project
// has no complete cache under the key.
var ErrCacheNotFound = errors.New("no such cache")

// Caches is implemented by engines that keep caches between runs (GitLab
// cache:). An engine without it runs jobs without their caches.
type Caches interface {
	// RestoreCache streams the newest complete cache of ref as a tar of
	// paths relative to the workspace; the caller closes it. Any object
	// it needs on the way is the job's (removed by Destroy at the
	// latest).
	RestoreCache(ctx context.Context, s *Spec, ref CacheRef) (io.ReadCloser, error)
	// SaveCache stores the tar read from content as the newest cache of
	// ref (size is its files' bytes, for listing), then removes the
	// older ones it replaces. A save cut short leaves no cache that
	// RestoreCache would take.
	SaveCache(ctx context.Context, s *Spec, ref CacheRef, size int64, content io.Reader) error
	// ListCaches lists every cache, of every project.
	ListCaches(ctx context.Context) ([]CacheInfo, error)
	// RemoveCache removes one cache by ID.
	RemoveCache(ctx context.Context, id string) error
}
