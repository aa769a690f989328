package agent

import (
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect/gitlab"
)

// CIRunner is what CI_RUNNER_* say of this slipway, for `slipway exec`
// and for the jobs an agent takes: the configuration's runner id, name
// and tags, the binary's version and revision from its build
// information, and the platform its jobs run on.
func CIRunner(r config.Runner) gitlab.RunnerInfo {
	info := gitlab.RunnerInfo{Description: r.Name, Tags: r.Tags, Version: "devel",
		Arch: runtime.GOOS + "/" + runtime.GOARCH}
	if r.ID > 0 {
		info.ID = strconv.FormatInt(r.ID, 10)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Revision = s.Value[:min(8, len(s.Value))] // gitlab-runner shows 8
			}
		}
	}
	return info
}

// runnerEnv is the CI_RUNNER_* variables of the entry's runner. The
// server parsed the file before a runner took the job, so the document
// has placeholders (CI_RUNNER_ID 1, CI_RUNNER_DESCRIPTION slipway): these
// go above them, as the variables GitLab's server and gitlab-runner add
// to a job they took. A file variable that expanded one of them at the
// server kept the placeholder.
func runnerEnv(r config.Runner) []string { return CIRunner(r).Env() }
