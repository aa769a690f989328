package drone

import (
	"fmt"
	"strings"
	"time"
)

// Context is the build a file is read for: what Drone's conditions (a
// step's when:, a pipeline's trigger:) are matched against, and the facts
// behind the DRONE_* and CI_* variables that Drone substitutes into the
// file and gives every container. A server knows it from the webhook; a
// local run gets it from the command line and the checkout. Facts left
// empty give variables that are left unset, as Drone leaves empty ones.
type Context struct {
	Branch, Event, Ref, Repo, Instance, Target, Cron, Action string

	// Commit is the full SHA being built; Before the one before it.
	Commit, Before string
	Message        string
	// Author is the login; the others as git records them.
	Author, AuthorName, AuthorEmail, AuthorAvatar string
	// Tag is the tag being built; when Ref is empty it gives
	// refs/tags/<Tag> (else Branch gives refs/heads/<Branch>).
	Tag         string
	BuildNumber int
	// RepoLink is the repository's web page, RemoteURL its clone URL,
	// DefaultBranch its default branch.
	RepoLink, RemoteURL, DefaultBranch string
	// SystemHost and SystemProto say where the server is
	// (DRONE_SYSTEM_*); SystemVersion its version.
	SystemHost, SystemProto, SystemVersion string
	// OS and Arch are the platform the engine runs (linux, amd64): a
	// pipeline whose platform: asks for another is skipped. Empty: not
	// checked.
	OS, Arch string
	// Hostname names the machine running the pipeline
	// (DRONE_RUNNER_HOSTNAME).
	Hostname string
	// Started is when the build started (DRONE_BUILD_STARTED, ...).
	Started time.Time
}

func (c Context) value(key string) (string, bool) {
	v, ok := map[string]string{
		"branch": c.Branch, "event": c.Event, "ref": c.Ref, "repo": c.Repo,
		"instance": c.Instance, "target": c.Target, "cron": c.Cron, "action": c.Action,
	}[key]
	return v, ok
}

// normalized fills what follows from other facts: the ref from the tag or
// the branch, the tag from a tag ref.
func (c Context) normalized() Context {
	switch {
	case c.Ref != "":
	case c.Tag != "":
		c.Ref = "refs/tags/" + c.Tag
	case c.Branch != "":
		c.Ref = "refs/heads/" + c.Branch
	}
	if t, ok := strings.CutPrefix(c.Ref, "refs/tags/"); ok && c.Tag == "" {
		c.Tag = t
	}
	return c
}

// buildEnv is what Drone substitutes into the file before parsing it:
// the variables of the system, the repository and the build, with the
// CI_* names Drone 0.x used. Drone's runner gives the same to every
// container, beside the stage's, the step's and the workspace's.
func (c Context) buildEnv() map[string]string {
	owner, name := "", c.Repo
	if i := strings.LastIndex(c.Repo, "/"); i >= 0 {
		owner, name = c.Repo[:i], c.Repo[i+1:]
	}
	number := ""
	if c.BuildNumber > 0 {
		number = fmt.Sprint(c.BuildNumber)
	}
	env := map[string]string{
		"CI": "true", "DRONE": "true",
		"DRONE_SYSTEM_PROTO": c.SystemProto, "DRONE_SYSTEM_HOST": c.SystemHost,
		"DRONE_SYSTEM_HOSTNAME": c.SystemHost, "DRONE_SYSTEM_VERSION": c.SystemVersion,

		"DRONE_REPO": c.Repo, "DRONE_REPO_OWNER": owner, "DRONE_REPO_NAMESPACE": owner,
		"DRONE_REPO_NAME": name, "DRONE_REPO_LINK": c.RepoLink, "DRONE_REPO_BRANCH": c.DefaultBranch,
		"DRONE_REMOTE_URL": c.RemoteURL, "DRONE_GIT_HTTP_URL": c.RemoteURL, "DRONE_REPO_SCM": "git",

		"DRONE_BRANCH": c.Branch, "DRONE_SOURCE_BRANCH": c.Branch, "DRONE_TARGET_BRANCH": c.Branch,
		"DRONE_COMMIT": c.Commit, "DRONE_COMMIT_SHA": c.Commit, "DRONE_COMMIT_AFTER": c.Commit,
		"DRONE_COMMIT_BEFORE": c.Before, "DRONE_COMMIT_REF": c.Ref, "DRONE_COMMIT_BRANCH": c.Branch,
		"DRONE_COMMIT_MESSAGE": c.Message, "DRONE_COMMIT_AUTHOR": c.Author,
		"DRONE_COMMIT_AUTHOR_NAME": c.AuthorName, "DRONE_COMMIT_AUTHOR_EMAIL": c.AuthorEmail,
		"DRONE_COMMIT_AUTHOR_AVATAR": c.AuthorAvatar,
		"DRONE_BUILD_NUMBER":         number, "DRONE_BUILD_EVENT": c.Event, "DRONE_BUILD_ACTION": c.Action,
		"DRONE_BUILD_STATUS": "success", "DRONE_TAG": c.Tag, "DRONE_DEPLOY_TO": c.Target,
		"DRONE_CRON": c.Cron,
	}
	if c.Event == "pull_request" {
		env["DRONE_PULL_REQUEST"] = prNumber(c.Ref)
	}
	if c.SystemProto != "" && c.SystemHost != "" && c.Repo != "" && number != "" {
		env["DRONE_BUILD_LINK"] = c.SystemProto + "://" + c.SystemHost + "/" + c.Repo + "/" + number
	}
	if !c.Started.IsZero() {
		// Drone reports a running build as finishing now.
		at := fmt.Sprint(c.Started.Unix())
		for _, name := range []string{"DRONE_BUILD_CREATED", "DRONE_BUILD_STARTED", "DRONE_BUILD_FINISHED",
			"DRONE_STAGE_STARTED", "DRONE_STAGE_FINISHED", "CI_BUILD_CREATED", "CI_BUILD_STARTED", "CI_BUILD_FINISHED"} {
			env[name] = at
		}
	}
	for legacy, name := range legacyNames {
		env[legacy] = env[name]
	}
	return env
}

// legacyNames are the CI_* variables Drone keeps for files written for
// Drone 0.x, and the DRONE_* variable each repeats.
var legacyNames = map[string]string{
	"CI_REPO": "DRONE_REPO", "CI_REPO_NAME": "DRONE_REPO", "CI_REPO_LINK": "DRONE_REPO_LINK",
	"CI_REPO_REMOTE": "DRONE_REMOTE_URL", "CI_REMOTE_URL": "DRONE_REMOTE_URL",
	"CI_BUILD_NUMBER": "DRONE_BUILD_NUMBER", "CI_BUILD_EVENT": "DRONE_BUILD_EVENT",
	"CI_BUILD_STATUS": "DRONE_BUILD_STATUS", "CI_COMMIT_SHA": "DRONE_COMMIT_SHA",
	"CI_COMMIT_REF": "DRONE_COMMIT_REF", "CI_COMMIT_BRANCH": "DRONE_COMMIT_BRANCH",
	"CI_COMMIT_MESSAGE": "DRONE_COMMIT_MESSAGE", "CI_COMMIT_AUTHOR": "DRONE_COMMIT_AUTHOR",
	"CI_COMMIT_AUTHOR_NAME": "DRONE_COMMIT_AUTHOR_NAME", "CI_COMMIT_AUTHOR_EMAIL": "DRONE_COMMIT_AUTHOR_EMAIL",
	"CI_COMMIT_AUTHOR_AVATAR": "DRONE_COMMIT_AUTHOR_AVATAR", "CI_TAG": "DRONE_TAG",
}

// prNumber is the number in a pull request's ref (refs/pull/12/head).
func prNumber(ref string) string {
	for _, part := range strings.Split(ref, "/") {
		if part != "" && strings.Trim(part, "0123456789") == "" {
			return part
		}
	}
	return ""
}

// runnerEnv names the machine and the platform the engine runs.
func (c Context) runnerEnv() map[string]string {
	env := map[string]string{"DRONE_RUNNER_HOSTNAME": c.Hostname, "DRONE_RUNNER_HOST": c.Hostname, "DRONE_MACHINE": c.Hostname}
	if c.OS != "" && c.Arch != "" {
		env["DRONE_RUNNER_PLATFORM"] = c.OS + "/" + c.Arch
	}
	return env
}
