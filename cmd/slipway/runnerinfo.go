package main

import (
	"runtime"
	"runtime/debug"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect/gitlab"
)

// runnerInfo is what CI_RUNNER_* say of this slipway: the configuration's
// runner name and tags, the binary's version and revision from its build
// information, and the platform its jobs run on.
func runnerInfo(r config.Runner) gitlab.RunnerInfo {
	info := gitlab.RunnerInfo{Description: r.Name, Tags: r.Tags, Version: "devel",
		Arch: runtime.GOOS + "/" + runtime.GOARCH}
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
