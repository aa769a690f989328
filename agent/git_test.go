package agent

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/agent/agenttest"
)

// A job's commit behind its branch's tip, beyond the fetch depth, is
// fetched by itself; a wrong token gets no checkout and shows no token;
// the right one is not kept in the checkout.
func TestCheckoutCommitBehindTheBranch(t *testing.T) {
	root := t.TempDir()
	first := agenttest.GitRepo(t, root, map[string]string{"v": "1\n"})
	bare := filepath.Join(root, "group", "project.git")
	work := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", bare, work}, {"-C", work, "commit", "-q", "--allow-empty", "-m", "second"},
		{"-C", work, "push", "-q", "origin", "HEAD:main"}} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	srv := agenttest.GitServer(t, root, "right-token")
	g := GitInfo{RepoURL: srv.URL + "/group/project.git", Ref: "main", Sha: first, RefType: "branch", Depth: 1}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := checkout(context.Background(), dir, g, "right-token", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	head, _ := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if strings.TrimSpace(string(head)) != first {
		t.Errorf("HEAD %s, want %s", head, first)
	}
	// The checkout is shared by later jobs (checkouts.go): the token of
	// the job that fetched it is in none of its files (.git/config).
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte("right-token")) {
			t.Errorf("%s holds the job token", path)
		}
		return err
	})
	err := checkout(context.Background(), t.TempDir(), g, "wrong-token", &out)
	if err == nil || strings.Contains(err.Error()+out.String(), "wrong-token") {
		t.Errorf("a wrong token: error %v, output %q", err, out.String())
	}
}
