package gitlab

import (
	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// artifacts reads a job's artifacts: what to keep of its workspace after
// it ends. reports: are GitLab's to show (test results, coverage); a
// local run has nowhere to show them, and says so.
func (p *parser) artifacts(n *yaml.Node) *pipeline.Artifacts {
	entries, ok := p.mapping("artifacts", n)
	if !ok {
		return nil
	}
	a := &pipeline.Artifacts{}
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "paths", "exclude":
			globs := p.globs("artifacts: "+k, e.Value)
			if k == "paths" {
				a.Paths = globs
			} else {
				a.Exclude = globs
			}
		case "untracked":
			a.Untracked, _ = p.boolean("artifacts: untracked", e.Value)
		case "name":
			a.Name, _ = p.str("artifacts: name", e.Value)
		case "expire_in":
			a.ExpireIn, a.Expire = p.expireIn(e.Value)
		case "when":
			a.When = p.saveWhen("artifacts: when", e.Value)
		case "reports":
			a.Reports = p.reports(e.Value)
		case "public", "access", "expose_as":
			// Who may download them from GitLab: nothing to do locally.
		default:
			p.warnf(e.Key, "unknown key %s in artifacts:", k)
		}
	}
	return a
}

// saveWhen reads the when: of artifacts: or cache:, after what the job
// did its files are kept.
func (p *parser) saveWhen(key string, n *yaml.Node) pipeline.When {
	s, ok := p.str(key, n)
	switch {
	case !ok:
	case s == "on_success":
		return pipeline.OnSuccess
	case s == "on_failure":
		return pipeline.OnFailure
	case s == "always":
		return pipeline.Always
	default:
		p.errorf(n, "%s: expected on_success, on_failure or always, got %q", key, s)
	}
	return pipeline.OnSuccess
}

// artifactsFrom sets, as GitLab decides, whose artifacts each job gets:
// those dependencies: names; else, with needs:, the needs that do not
// say artifacts: false; else every job of the stages before.
func (p *parser) artifactsFrom(jobs []planned, byBase map[string][]planned) {
	for _, j := range jobs {
		switch {
		case j.deps != nil:
			for _, d := range j.deps {
				targets, ok := byBase[d]
				if !ok || targets[0].stage >= j.stage {
					p.errorf(j.depsAt, "job %s: dependencies: %s is not a job of an earlier stage that runs", j.base, d)
					continue
				}
				j.job.ArtifactsFrom = append(j.job.ArtifactsFrom, names(targets)...)
			}
		case j.has:
			for _, nd := range j.needs {
				if !nd.noArtifacts {
					j.job.ArtifactsFrom = append(j.job.ArtifactsFrom, names(byBase[nd.job])...)
				}
			}
		default:
			for _, o := range jobs {
				if o.stage < j.stage {
					j.job.ArtifactsFrom = append(j.job.ArtifactsFrom, o.job.Name)
				}
			}
		}
	}
}

func names(jobs []planned) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.job.Name)
	}
	return out
}

// dependencies reads dependencies:, a list of job names; null (an empty
// key, which GitLab accepts) is as if it were not written.
func (p *parser) dependencies(e yamlutil.Pair) ([]string, *yaml.Node) {
	if v := p.value(e.Value); v == nil || v.ShortTag() == "!!null" {
		return nil, nil
	}
	deps, _ := p.stringList("dependencies", e.Value)
	if deps == nil {
		deps = []string{}
	}
	return deps, e.Key
}
