package runner

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
)

// jobCache is one cache of a running job, its key decided when the job
// starts (key: files hashes the checkout as it is then).
type jobCache struct {
	c   *pipeline.Cache
	key string
}

// cacheProject is what caches are kept per: the run's project, or else
// the checkout's absolute path.
func (r *run) cacheProject() string {
	if r.project != "" {
		return r.project
	}
	abs, err := filepath.Abs(r.workspace)
	if err != nil {
		return r.workspace
	}
	return abs
}

// restoreCaches extracts the job's caches (those it pulls) into host
// directories, returned in order to be copied into the workspace before
// the artifacts, as gitlab-runner does. They are removed by dropCaches.
func (jb *job) restoreCaches(ctx context.Context) []string {
	if len(jb.j.Caches) == 0 {
		return nil
	}
	caches, ok := jb.eng.(engine.Caches)
	if !ok {
		jb.r.say(jb.j.Name, "WARNING: cache: the %s engine keeps no caches; the job runs without them", jb.j.Target)
		return nil
	}
	var dirs []string
	for _, c := range jb.j.Caches {
		key := cacheKey(c, jb.r.workspace)
		jb.caches = append(jb.caches, jobCache{c: c, key: key})
		if !c.Policy.Pulls() {
			continue
		}
		if dir := jb.restoreCache(ctx, caches, c, key); dir != "" {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// restoreCache tries the key, then each fallback key, and extracts the
// first cache found.
func (jb *job) restoreCache(ctx context.Context, caches engine.Caches, c *pipeline.Cache, key string) string {
	for i, k := range append([]string{key}, c.FallbackKeys...) {
		jb.r.say(jb.j.Name, "Checking cache for %s...", k)
		rc, err := caches.RestoreCache(ctx, jb.spec, engine.CacheRef{Project: jb.r.cacheProject(), Key: k})
		if errors.Is(err, engine.ErrCacheNotFound) {
			jb.r.say(jb.j.Name, "No cache found for %s", k)
			continue
		}
		if err != nil {
			jb.r.say(jb.j.Name, "WARNING: Failed to extract cache %s: %v", k, err)
			return ""
		}
		dir, err := extractCache(rc)
		rc.Close()
		if err != nil {
			os.RemoveAll(dir)
			jb.r.say(jb.j.Name, "WARNING: Failed to extract cache %s: %v", k, err)
			return ""
		}
		jb.cacheDirs = append(jb.cacheDirs, dir)
		if i > 0 {
			jb.r.say(jb.j.Name, "Successfully extracted cache from fallback key %s", k)
		} else {
			jb.r.say(jb.j.Name, "Successfully extracted cache")
		}
		return dir
	}
	return ""
}

// dropCaches removes the host copies restoreCaches made.
func (jb *job) dropCaches() {
	for _, d := range jb.cacheDirs {
		os.RemoveAll(d)
	}
}

// extractCache unpacks a cache's tar into a new temporary directory:
// regular files, directories and symbolic links, never through a link
// and never outside the directory.
func extractCache(r io.Reader) (string, error) {
	dir, err := os.MkdirTemp("", "slipway-cache-")
	if err != nil {
		return "", err
	}
	links := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir, nil
		}
		if err != nil {
			return dir, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if !filepath.IsLocal(name) || throughLink(name, links) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			err = writeFile(dst, h, tr)
		case tar.TypeSymlink:
			links[name] = true
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.Symlink(h.Linkname, dst)
			}
		}
		if err != nil {
			return dir, err
		}
	}
}

// throughLink: a directory above name is a link the cache made.
func throughLink(name string, links map[string]bool) bool {
	for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
		if links[p] {
			return true
		}
	}
	return false
}

// saveCaches saves the job's caches that it pushes and whose when: the
// job's outcome meets.
func (jb *job) saveCaches(ctx context.Context, failed bool) {
	caches, ok := jb.eng.(engine.Caches)
	if !ok {
		return
	}
	for _, jc := range jb.caches {
		if jc.c.Policy.Pushes() && jc.c.When.Runs(failed) {
			jb.saveCache(ctx, caches, jc)
		}
	}
}

func (jb *job) saveCache(ctx context.Context, caches engine.Caches, jc jobCache) {
	name := jb.j.Name
	jb.r.say(name, "Creating cache %s...", jc.key)
	f, err := os.CreateTemp("", "slipway-cache-*.tar")
	if err != nil {
		jb.r.say(name, "WARNING: Failed to create cache: %v", err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	sel := selector{a: &pipeline.Artifacts{Paths: jc.c.Paths, Untracked: jc.c.Untracked},
		checkout: jb.spec.WorkspaceDir, matched: map[string]bool{}}
	files, size, err := jb.exportCache(ctx, sel, f)
	if err != nil {
		jb.r.say(name, "WARNING: Failed to create cache: %v", err)
		return
	}
	for _, p := range jc.c.Paths {
		if !sel.matched[p] {
			jb.r.say(name, "WARNING: cache: %s: no matching files", p)
		}
	}
	if files == 0 {
		jb.r.say(name, "Cache %s not saved: no files to keep", jc.key)
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		jb.r.say(name, "WARNING: Failed to create cache: %v", err)
		return
	}
	ref := engine.CacheRef{Project: jb.r.cacheProject(), Key: jc.key}
	if err := caches.SaveCache(ctx, jb.spec, ref, size, f); err != nil {
		jb.r.say(name, "WARNING: Failed to create cache: %v", err)
		return
	}
	jb.r.say(name, "Created cache %s: %d files", jc.key, files)
}

// exportCache writes the files and links of the workspace that sel keeps
// to w as a tar, and counts them and their bytes.
func (jb *job) exportCache(ctx context.Context, sel selector, w io.Writer) (files int, size int64, err error) {
	rc, err := jb.eng.Export(ctx, jb.spec)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	tr, tw := tar.NewReader(rc), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, size, tw.Close()
		}
		if err != nil {
			return files, size, err
		}
		kind := h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink
		if !kind || !filepath.IsLocal(h.Name) || !sel.keeps(h.Name) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return files, size, err
		}
		n, err := io.Copy(tw, tr)
		if err != nil {
			return files, size, err
		}
		files, size = files+1, size+n
	}
}

// cacheKey is the key a cache is kept under: its key with variables
// expanded ("default" if that left nothing), or, with key: files, a hash
// of those files' names and contents in the checkout (prefix-hash with a
// prefix; "default" when no file matches, as in GitLab).
func cacheKey(c *pipeline.Cache, workspace string) string {
	if len(c.KeyFiles) == 0 {
		if c.Key == "" {
			return "default"
		}
		return c.Key
	}
	key := filesHash(c.KeyFiles, workspace)
	if c.KeyPrefix != "" {
		key = c.KeyPrefix + "-" + key
	}
	return key
}

// filesHash hashes the files the globs match in dir, by name and
// content; "default" when none matches.
func filesHash(globs []string, dir string) string {
	fsys := os.DirFS(dir)
	var names []string
	for _, g := range globs {
		m, _ := doublestar.Glob(fsys, strings.TrimPrefix(g, "./"), doublestar.WithFilesOnly())
		names = append(names, m...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return "default"
	}
	h := sha256.New()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		h.Write([]byte(n + "\x00" + hex.EncodeToString(sum[:]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}
