package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/slipway-ci/slipway/server/client"
)

// TestRestartBuild restarts through drone-go's BuildRestart, the drone
// CLI's own call, and through slipway's client.
func TestRestartBuild(t *testing.T) {
	ts := startServer(t, Options{})
	testRestart(t, ts)
}

func testRestart(t *testing.T, ts *testServer) {
	repo := ts.enable(t, "octo/r")
	dir, _ := ts.clone(t, "octo/r", ts.admin)
	commitFile(t, dir, ".gitlab-ci.yml", gitlabFile)
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	commitFile(t, dir, "README", "second\n")
	mustGit(t, dir, "push", "--quiet", "origin", "main")
	builds := ts.builds(t, repo) // newest first
	if len(builds) != 2 || builds[0].Before != builds[1].Commit {
		t.Fatalf("builds %+v", builds)
	}
	pushed := builds[0]

	d := ts.drone(ts.admin)
	b, err := d.BuildRestart("octo", "r", int(pushed.Number), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 3 || b.Parent != pushed.Number || b.After != pushed.Commit || b.Before != pushed.Before ||
		b.Ref != pushed.Ref || b.Event != "push" || b.Sender != "admin" || len(b.Stages) != 5 || b.Status != "pending" {
		t.Errorf("restarted: %+v", b)
	}
	stored, err := ts.st.Build(context.Background(), repo.ID, 3)
	if err != nil || stored.Parent != pushed.Number || stored.Before != pushed.Before || stored.Commit != pushed.Commit {
		t.Errorf("stored restart %+v %v", stored, err)
	}

	_, err = d.BuildRestart("octo", "r", 1, map[string]string{"DEPLOY": "yes"})
	wantClientError(t, err, 400, "parameters")
	_, err = d.BuildRestart("octo", "r", 9, nil)
	wantClientError(t, err, 404, "no build 9")
	_, bob := ts.user(t, "bob")
	_, err = ts.drone(bob).BuildRestart("octo", "r", 1, nil)
	wantClientError(t, err, 403, "may not access")

	c := &client.Client{URL: ts.url, Token: ts.admin}
	again, err := c.RestartBuild(context.Background(), "octo/r", 3)
	if err != nil || again.Number != 4 || again.Parent != 3 || again.Commit != pushed.Commit {
		t.Errorf("client restart: %+v %v", again, err)
	}
	var ce *client.Error
	if _, err := c.RestartBuild(context.Background(), "octo/r", 99); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("client restart of an unknown build: %v", err)
	}

	// The server-side call the web interface makes.
	admin, err := ts.st.UserByLogin(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	fifth, err := ts.RestartBuild(context.Background(), repo, 1, admin)
	if err != nil || fifth.Number != 5 || fifth.Parent != 1 || fifth.Commit != builds[1].Commit || fifth.Before != "" {
		t.Errorf("RestartBuild: %+v %v", fifth, err)
	}
}
