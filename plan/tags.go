package plan

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/pipeline"
)

// selectTagged drops the GitLab jobs this runner would not take, as
// GitLab matches a job's tags: to runners, with a warning for each.
func selectTagged(p *pipeline.Pipeline, r config.Runner) []*pipeline.Warning {
	var warns []*pipeline.Warning
	var stages []pipeline.Stage
	for _, st := range p.Stages {
		kept := st.Jobs[:0:0]
		for _, j := range st.Jobs {
			if why := refuses(j.Tags, r, runtime.GOOS, runtime.GOARCH); why != "" {
				warns = append(warns, pipeline.Errorf(j.Pos, "job %s is left out: %s", j.Name, why))
				continue
			}
			kept = append(kept, j)
		}
		if len(kept) > 0 {
			stages = append(stages, pipeline.Stage{Name: st.Name, Jobs: kept})
		}
	}
	p.Stages = stages
	return warns
}

// refuses says why a runner with r's tags, on goos/goarch, does not take
// a job with these tags; "" when it takes it.
func refuses(tags []string, r config.Runner, goos, goarch string) string {
	untagged := len(r.Tags) == 0
	if r.RunUntagged != nil {
		untagged = *r.RunUntagged
	}
	switch {
	case len(tags) == 0 && !untagged:
		return "it has no tags, and the runner configuration's run_untagged is false"
	case len(tags) == 0:
		return ""
	case len(r.Tags) > 0:
		for _, t := range tags {
			if !slices.ContainsFunc(r.Tags, func(rt string) bool { return strings.EqualFold(rt, t) }) {
				return fmt.Sprintf("its tags (%s) are not all among the runner configuration's tags (%s)", strings.Join(tags, ", "), strings.Join(r.Tags, ", "))
			}
		}
		return ""
	}
	for _, t := range tags {
		if p := platformOf(t); p != "" && p != goos && p != goarch {
			return fmt.Sprintf("its tags (%s) ask for a runner on %s, and this one is on %s/%s; give the runner configuration tags to take it", strings.Join(tags, ", "), p, goos, goarch)
		}
	}
	return ""
}

// platforms maps words seen in runner tags to the GOOS or GOARCH they
// name.
var platforms = map[string]string{
	"macos": "darwin", "osx": "darwin", "darwin": "darwin", "mac": "darwin",
	"windows": "windows", "win": "windows", "win32": "windows", "win64": "windows",
	"freebsd": "freebsd",
	"arm64":   "arm64", "aarch64": "arm64", "arm": "arm", "armhf": "arm", "armv7": "arm", "armv6": "arm",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}

// platformOf is the platform a tag names, by its words ("saas-macos-
// medium-m1" names darwin), or "".
func platformOf(tag string) string {
	words := strings.FieldsFunc(strings.ToLower(tag), func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	})
	for _, w := range words {
		if p, ok := platforms[w]; ok {
			return p
		}
	}
	return ""
}
