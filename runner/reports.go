package runner

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// keptNow is what of a is kept after a job that failed or not: its paths
// when its when: says so, and its reports always (GitLab uploads
// reports whatever the outcome); nil for nothing.
func keptNow(a *pipeline.Artifacts, failed bool) *pipeline.Artifacts {
	out := *a
	if !a.When.Runs(failed) {
		out.Paths, out.Untracked = nil, false
	}
	out.Paths = slices.Clone(out.Paths)
	for _, r := range a.Reports {
		out.Paths = append(out.Paths, r.Paths...)
	}
	if len(out.Paths) == 0 && !out.Untracked {
		return nil
	}
	return &out
}

// afterKeep records when the job's kept artifacts expire and reads its
// dotenv reports.
func (jb *job) afterKeep(a *pipeline.Artifacts, files []string) {
	if a.Expire > 0 {
		at := time.Now().Add(a.Expire).UTC().Format(time.RFC3339)
		if err := os.WriteFile(jb.r.artifactsDir(jb.j.Name)+expiresSuffix, []byte(at+"\n"), 0o644); err != nil {
			jb.r.say(jb.j.Name, "WARNING: artifacts: expire_in not recorded: %v", err)
		}
	}
	for _, r := range a.Reports {
		if r.Type != "dotenv" {
			continue
		}
		for _, f := range files {
			if slices.ContainsFunc(r.Paths, func(g string) bool { return matches(g, f) }) {
				jb.readDotenv(f)
			}
		}
	}
}

// maxDotenv is GitLab's limit on a dotenv report's size.
const maxDotenv = 5 << 10

var dotenvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readDotenv reads a kept dotenv report: NAME=value lines, whose
// variables the jobs that get this job's artifacts receive.
func (jb *job) readDotenv(file string) {
	name := jb.j.Name
	path := filepath.Join(jb.r.artifactsDir(name), filepath.FromSlash(file))
	data, err := os.ReadFile(path)
	if err == nil && len(data) > maxDotenv {
		err = fmt.Errorf("larger than GitLab's limit of %d bytes", maxDotenv)
	}
	if err != nil {
		jb.r.say(name, "WARNING: dotenv report %s: %v", file, err)
		return
	}
	var vars []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || !dotenvName.MatchString(k) {
			jb.r.say(name, "WARNING: dotenv report %s:%d: not NAME=value; ignored", file, n)
			continue
		}
		vars = append(vars, line)
	}
	jb.r.mu.Lock()
	defer jb.r.mu.Unlock()
	if jb.r.dotenv == nil {
		jb.r.dotenv = map[string][]string{}
	}
	jb.r.dotenv[name] = append(jb.r.dotenv[name], vars...)
}

// withDotenv is env with the dotenv variables of the jobs j gets
// artifacts from, which override the file's variables as in GitLab.
func (r *run) withDotenv(j *plan.Job, env []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var extra []string
	for _, from := range j.ArtifactsFrom {
		extra = append(extra, r.dotenv[from]...)
	}
	if len(extra) == 0 {
		return env
	}
	names := map[string]bool{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return names[k]
	})
	return append(out, extra...)
}

// expiresSuffix names the file beside a job's artifacts directory that
// says when they expire (RFC 3339), for RemoveExpired.
const expiresSuffix = ".expires"

// RemoveExpired removes the job artifacts below root (root/<run>/<job>)
// whose expire_in has passed, and the run directories that leaves
// empty; it returns how many job directories it removed.
func RemoveExpired(root string, now time.Time) (int, error) {
	marks, err := filepath.Glob(filepath.Join(root, "*", "*"+expiresSuffix))
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, m := range marks {
		data, err := os.ReadFile(m)
		if err != nil {
			return removed, err
		}
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(string(data)))
		if err != nil || now.Before(at) {
			continue
		}
		if err := os.RemoveAll(strings.TrimSuffix(m, expiresSuffix)); err != nil {
			return removed, err
		}
		if err := os.Remove(m); err != nil {
			return removed, err
		}
		removed++
		_ = os.Remove(filepath.Dir(m)) // only when empty
	}
	return removed, nil
}
