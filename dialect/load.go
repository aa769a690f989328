// Package dialect reads a pipeline file in whichever format it is written:
// dialect/gitlab for .gitlab-ci.yml, dialect/drone for .drone.yml.
package dialect

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
)

// maxFileSize bounds what is read at all; the parsers have their own limits.
const maxFileSize = 4 << 20

// Names are the files Find looks for, in order.
var Names = []string{".gitlab-ci.yml", ".gitlab-ci.yaml", ".drone.yml", ".drone.yaml"}

// Find returns the pipeline file in dir.
func Find(dir string) (string, error) {
	for _, n := range Names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no pipeline file in %s (looked for %s); give one with -f", dir, strings.Join(Names, ", "))
}

// Options are what the dialects need to know beyond the file.
type Options struct {
	// ProjectPath is "group/project", GitLab's build directory below /builds.
	ProjectPath string
	// GitLab holds what the runner configuration adds to GitLab jobs.
	GitLab gitlab.Options
	// Drone is what Drone's when: and trigger: conditions are matched
	// against.
	Drone drone.Context
}

// Load reads and parses path, choosing the dialect by file name: names
// containing "drone" are Drone, everything else GitLab.
func Load(path string, opts Options) (*pipeline.Pipeline, []*pipeline.Warning, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	if IsDrone(path) {
		return drone.Parse(path, data, opts.Drone)
	}
	gopts := opts.GitLab
	gopts.ProjectPath = opts.ProjectPath
	return gitlab.Parse(path, data, gopts)
}

// readLimited reads path, refusing more than maxFileSize bytes. It reads
// through the limit rather than trusting a size from stat: /dev/zero, a
// FIFO or /dev/stdin has none, and would otherwise be read until memory
// runs out.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: file is %d bytes, more than the %d a pipeline file may have", path, st.Size(), maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: more than the %d bytes a pipeline file may have (not a regular file, read up to the limit)", path, maxFileSize)
	}
	return data, nil
}

// IsDrone tells the dialect from the file name.
func IsDrone(path string) bool {
	return strings.Contains(strings.ToLower(filepath.Base(path)), "drone")
}

// ProjectPath derives "group/project" from a checkout directory: its
// parent's name and its own, as GitLab's /builds/<group>/<project>.
func ProjectPath(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	project := sanitize(filepath.Base(abs))
	group := sanitize(filepath.Base(filepath.Dir(abs)))
	if group == "" || group == "/" || group == "." {
		group = "local"
	}
	return group + "/" + project
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r < 32 {
			return '-'
		}
		return r
	}, s)
}
