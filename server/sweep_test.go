package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// TestSweepDeletesExpiredArtifacts: the server's sweep loop deletes an
// archive once it expires, and keeps one that has not.
func TestSweepDeletesExpiredArtifacts(t *testing.T) {
	ts := startServer(t, Options{Sweep: 50 * time.Millisecond})
	_, builds := ts.pushFile(t, "octo/sweep", ".gitlab-ci.yml", gitlabFile)
	ctx := context.Background()
	jobs, err := ts.st.Jobs(ctx, builds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, expires := range []time.Time{time.Now().Add(300 * time.Millisecond), time.Now().Add(time.Hour)} {
		if _, err := ts.st.PutArtifact(ctx, store.Artifact{JobID: jobs[i].ID, Filename: "a.zip", Format: "zip", Expires: expires},
			bytes.NewReader([]byte("archive"))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.st.Artifact(ctx, jobs[0].ID); err != nil {
		t.Fatalf("deleted before it expired: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := ts.st.Artifact(ctx, jobs[0].ID); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired archive is still stored after 10 s")
		}
	}
	if _, err := ts.st.Artifact(ctx, jobs[1].ID); err != nil {
		t.Errorf("an archive not yet expired: %v", err)
	}
}
