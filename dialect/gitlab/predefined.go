package gitlab

import (
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/vcs"
)

// Pipeline sources GitLab knows (CI_PIPELINE_SOURCE).
var pipelineSources = keySet(`push merge_request_event schedule web api trigger pipeline
	parent_pipeline external chat external_pull_request_event webide ondemand_dast_scan security_orchestration_policy`)

// ref is what the pipeline runs for: a branch or a tag, from git unless
// --branch or --tag say otherwise.
type ref struct {
	branch, tag   string
	defaultBranch string
	source        string
}

func (r ref) name() string {
	if r.tag != "" {
		return r.tag
	}
	return r.branch
}

// pipelineRef decides the ref. A tag given or found with no branch makes
// a tag pipeline, as pushing a tag does in GitLab; a checkout on a branch
// makes a branch pipeline even when a tag points at the commit.
func (p *parser) pipelineRef() ref {
	g := p.git()
	r := ref{branch: p.opts.Branch, tag: p.opts.Tag, defaultBranch: g.DefaultBranch, source: p.opts.PipelineSource}
	if r.defaultBranch == "" {
		r.defaultBranch = vcs.FallbackBranch
	}
	if r.source == "" {
		r.source = "push"
	}
	switch {
	case r.tag != "":
		r.branch = ""
	case r.branch != "":
	case g.Branch != "":
		r.branch = g.Branch
	case g.Tag != "":
		r.tag = g.Tag
	default:
		r.branch = r.defaultBranch
	}
	return r
}

// git is the workspace's git facts, placeholders when none were given.
func (p *parser) git() vcs.Info {
	if p.opts.Git.SHA == "" {
		return vcs.Info{SHA: vcs.ZeroSHA, ShortSHA: vcs.ZeroSHA[:8], BeforeSHA: vcs.ZeroSHA, DefaultBranch: vcs.FallbackBranch}
	}
	return p.opts.Git
}

// predefined are the variables GitLab sets for the whole pipeline; the
// runner's own (CI_RUNNER_*) are in runnerVars.
func (p *parser) predefined(r ref) []variable {
	g := p.git()
	project := strings.Trim(p.opts.ProjectPath, "/")
	namespace, name := "", project
	if i := strings.LastIndexByte(project, '/'); i >= 0 {
		namespace, name = project[:i], project[i+1:]
	}
	vars := []variable{
		{name: "CI", value: "true"},
		{name: "GITLAB_CI", value: "true"},
		{name: "CI_SERVER", value: "yes"},
		{name: "CI_SERVER_NAME", value: "GitLab"},
		{name: "CI_SERVER_HOST", value: "localhost"},
		{name: "CI_SERVER_PORT", value: "80"},
		{name: "CI_SERVER_PROTOCOL", value: "http"},
		{name: "CI_SERVER_URL", value: "http://localhost"},
		{name: "CI_SERVER_FQDN", value: "localhost"},
		{name: "CI_API_V4_URL", value: "http://localhost/api/v4"},
		{name: "CI_API_GRAPHQL_URL", value: "http://localhost/api/graphql"},
		{name: "CI_BUILDS_DIR", value: "/builds"},
		{name: "CI_PROJECT_DIR", value: p.workspace()},
		{name: "CI_PROJECT_PATH", value: project},
		{name: "CI_PROJECT_NAME", value: name},
		{name: "CI_PROJECT_NAMESPACE", value: namespace},
		{name: "CI_PROJECT_PATH_SLUG", value: slug(project)},
		{name: "CI_PROJECT_URL", value: "http://localhost/" + project},
		{name: "CI_COMMIT_SHA", value: g.SHA},
		{name: "CI_COMMIT_SHORT_SHA", value: g.ShortSHA},
		{name: "CI_COMMIT_BEFORE_SHA", value: g.BeforeSHA},
		{name: "CI_COMMIT_REF_NAME", value: r.name()},
		{name: "CI_COMMIT_REF_SLUG", value: slug(r.name())},
		{name: "CI_COMMIT_MESSAGE", value: g.Message},
		{name: "CI_COMMIT_TITLE", value: g.Title},
		{name: "CI_COMMIT_DESCRIPTION", value: description(g.Message)},
		{name: "CI_COMMIT_AUTHOR", value: author(g)},
		{name: "CI_DEFAULT_BRANCH", value: r.defaultBranch},
		{name: "CI_PIPELINE_SOURCE", value: r.source},
		{name: "CI_PIPELINE_ID", value: "1"},
		{name: "CI_PIPELINE_IID", value: "1"},
	}
	if r.branch != "" {
		vars = append(vars, variable{name: "CI_COMMIT_BRANCH", value: r.branch})
	}
	if r.tag != "" {
		vars = append(vars, variable{name: "CI_COMMIT_TAG", value: r.tag})
	}
	if !g.Timestamp.IsZero() {
		vars = append(vars, variable{name: "CI_COMMIT_TIMESTAMP", value: g.Timestamp.Format(time.RFC3339)})
	}
	if reg := p.opts.Registry; reg != "" {
		vars = append(vars, variable{name: "CI_REGISTRY", value: reg},
			variable{name: "CI_REGISTRY_IMAGE", value: reg + "/" + strings.ToLower(project)})
	}
	return nonEmpty(vars)
}

// nonEmpty keeps the variables with a value, marked raw: as GitLab, a
// variable with nothing to say is not set, and the values are final (a $
// in a commit message is not a reference).
func nonEmpty(vars []variable) []variable {
	out := vars[:0]
	for _, v := range vars {
		if v.value != "" {
			v.raw = true
			out = append(out, v)
		}
	}
	return out
}

// jobPredefined are the variables GitLab sets per job; index counts jobs
// from 1 in file order (CI_JOB_ID).
func jobPredefined(name, stage string, index int, img pipeline.Image) []variable {
	return []variable{
		{name: "CI_JOB_ID", value: strconv.Itoa(index), raw: true},
		{name: "CI_JOB_NAME", value: name, raw: true},
		{name: "CI_JOB_NAME_SLUG", value: slug(name), raw: true},
		{name: "CI_JOB_STAGE", value: stage, raw: true},
		{name: "CI_JOB_IMAGE", value: img.Name, raw: true},
		{name: "CI_NODE_TOTAL", value: "1", raw: true},
	}
}

// isPredefined tells the variables this file sets from git and the job.
func isPredefined(name string) bool {
	return name == "CI" || name == "GITLAB_CI" || strings.HasPrefix(name, "CI_")
}

// slug is GitLab's *_SLUG: lower case, every character but a-z and 0-9
// replaced by -, at most 63 bytes, no - at either end.
func slug(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return strings.Trim(string(b), "-")
}

func author(g vcs.Info) string {
	if g.AuthorName == "" && g.AuthorEmail == "" {
		return ""
	}
	return g.AuthorName + " <" + g.AuthorEmail + ">"
}

// description is the message after its title line, as GitLab's
// CI_COMMIT_DESCRIPTION.
func description(msg string) string {
	_, rest, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimLeft(rest, "\n")
}
