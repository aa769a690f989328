package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// askToken is a git credential helper that answers with the job token
// from git's environment: the token is never in an argument, a file or
// the remote's URL, so neither `ps` nor git's messages show it.
const askToken = `!f() { test "$1" = get && echo username=gitlab-ci-token && echo "password=$SLIPWAY_JOB_TOKEN"; }; f`

// checkout fetches g's commit from its repository into dir, with the job
// token as the password, and checks it out (detached, as gitlab-runner).
// git's own messages go to out.
func checkout(ctx context.Context, dir string, g GitInfo, token string, out io.Writer) error {
	if g.RepoURL == "" || g.Sha == "" {
		return fmt.Errorf("the job names no repository or commit (git_info)")
	}
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "SLIPWAY_JOB_TOKEN="+token,
		// The first, empty, helper drops any the user configured, so the
		// token is neither stored nor mixed with other credentials.
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=credential.helper", "GIT_CONFIG_VALUE_0=",
		"GIT_CONFIG_KEY_1=credential.helper", "GIT_CONFIG_VALUE_1="+askToken)
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = out, io.MultiWriter(out, &stderr)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	if err := git("init", "-q"); err != nil {
		return err
	}
	if err := git("remote", "add", "origin", g.RepoURL); err != nil {
		return err
	}
	fetch := []string{"fetch", "-q", "--no-tags"}
	if g.Depth > 0 {
		fetch = append(fetch, "--depth", strconv.Itoa(g.Depth))
	}
	if err := git(append(append(fetch, "origin"), refspecs(g)...)...); err != nil {
		return err
	}
	have := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "-q", "--verify", g.Sha+"^{commit}")
	if have.Run() != nil {
		// The ref has moved on past the commit (or beyond the depth): ask
		// for the commit itself.
		if err := git(append(fetch, "origin", g.Sha)...); err != nil {
			return err
		}
	}
	return git("checkout", "-q", "--detach", g.Sha)
}

// refspecs are the job's, or those of its branch or tag.
func refspecs(g GitInfo) []string {
	if len(g.Refspecs) > 0 {
		return g.Refspecs
	}
	if g.RefType == "tag" {
		return []string{"+refs/tags/" + g.Ref + ":refs/tags/" + g.Ref}
	}
	return []string{"+refs/heads/" + g.Ref + ":refs/remotes/origin/" + g.Ref}
}
