package runner

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// artifactsDir is where a job's artifacts are kept, a directory of the
// run's named after the job.
func (r *run) artifactsDir(job string) string {
	return ArtifactsDir(r.artifacts, job)
}

// ArtifactsDir is the directory under root (Options.Artifacts) that keeps
// job's artifacts: where a runner agent puts the artifacts of jobs run
// elsewhere (Options.Given) and finds those a job kept.
func ArtifactsDir(root, job string) string {
	return filepath.Join(root, unsafeChars.ReplaceAllString(job, "_"))
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// inputs are the kept artifacts of the jobs j gets artifacts from (jobs
// that kept none, or did not run, give nothing), said in the job's
// output as gitlab-runner does.
func (r *run) inputs(j *plan.Job) []string {
	if r.artifacts == "" {
		return nil
	}
	var dirs, from []string
	for _, name := range j.ArtifactsFrom {
		if r.keptBy(name) {
			dirs = append(dirs, r.artifactsDir(name))
			from = append(from, name)
		}
	}
	if len(from) > 0 {
		r.say(j.Name, "Downloading artifacts from %s", strings.Join(from, ", "))
	}
	return dirs
}

func (r *run) keptBy(job string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.kept[job]
	return ok || slices.Contains(r.given, job)
}

// collect keeps the job's artifacts, when it has any and its outcome is
// the one artifacts: when: asks for.
func (jb *job) collect(ctx context.Context, failed bool) {
	a, name := jb.j.Artifacts, jb.j.Name
	if a == nil {
		return
	}
	if a = keptNow(a, failed); a == nil {
		return
	}
	if jb.r.artifacts == "" {
		jb.r.say(name, "Job %q: artifacts are not kept in this run", name)
		return
	}
	files, err := jb.export(ctx, a)
	if err != nil {
		jb.r.say(name, "Job %q: artifacts not kept: %v", name, err)
		return
	}
	jb.r.mu.Lock()
	jb.r.kept[name] = files
	jb.r.mu.Unlock()
	jb.r.say(name, "Uploading artifacts: %d files to %s", len(files), jb.r.artifactsDir(name))
	jb.afterKeep(a, files)
}

// export copies the files of the job's workspace that a keeps into the
// job's artifacts directory and lists them.
func (jb *job) export(ctx context.Context, a *pipeline.Artifacts) ([]string, error) {
	rc, err := jb.eng.Export(ctx, jb.spec)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	dir := jb.r.artifactsDir(jb.j.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sel := selector{a: a, checkout: jb.spec.WorkspaceDir, matched: map[string]bool{}}
	var files []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files, err
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(h.Name) || !sel.keeps(h.Name) {
			continue
		}
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(h.Name)), h, tr); err != nil {
			return files, err
		}
		files = append(files, h.Name)
	}
	for _, p := range a.Paths {
		if !sel.matched[p] {
			jb.r.say(jb.j.Name, "WARNING: artifacts: %s: no matching files", p)
		}
	}
	return files, nil
}

// selector decides which files of a workspace are artifacts.
type selector struct {
	a        *pipeline.Artifacts
	checkout string // the host checkout, for untracked:
	matched  map[string]bool
}

// keeps: name (a file, relative to the workspace) matches a path glob,
// or is below a directory that does, or is untracked when untracked: is
// set; and no exclude glob matches it.
func (s selector) keeps(name string) bool {
	for _, ex := range s.a.Exclude {
		if matches(ex, name) {
			return false
		}
	}
	keep := false
	for _, p := range s.a.Paths {
		if matches(p, name) {
			s.matched[p], keep = true, true
		}
	}
	return keep || s.a.Untracked && s.untracked(name)
}

// matches is GitLab's rule: a glob names files, or directories whose
// whole tree is taken.
func matches(glob, name string) bool {
	glob = strings.TrimSuffix(strings.TrimPrefix(glob, "./"), "/")
	for p := name; p != "." && p != "/"; p = path.Dir(p) {
		if ok, _ := doublestar.Match(glob, p); ok {
			return true
		}
	}
	return false
}

// untracked: the file was not in the checkout the job started from (a
// local run has no git index to ask; a file the job made is what
// untracked: is for).
func (s selector) untracked(name string) bool {
	if s.checkout == "" {
		return true
	}
	_, err := os.Lstat(filepath.Join(s.checkout, filepath.FromSlash(name)))
	return err != nil
}

func writeFile(dst string, h *tar.Header, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// listArtifacts says at the end of the run what was kept, and where.
func (r *run) listArtifacts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.kept) == 0 {
		return
	}
	r.say("", "Artifacts kept in %s:", r.artifacts)
	var jobs []string
	for j := range r.kept {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	for _, j := range jobs {
		files := r.kept[j]
		sort.Strings(files)
		r.say("", "  %s: %s", j, cmpList(files))
	}
}

func cmpList(files []string) string {
	if len(files) == 0 {
		return "(no files)"
	}
	return fmt.Sprintf("%d files: %s", len(files), strings.Join(files, " "))
}
