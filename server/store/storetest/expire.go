package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// testExpiredArtifacts: the archives past their expiry go, rows and
// chunks; those not yet expired, or without an expiry, stay.
func testExpiredArtifacts(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	_, jobs := newBuild(t, s, f.repo.ID, job("old"), job("fresh"), job("forever"))
	now := time.Now()
	big := make([]byte, 2<<20+1) // three chunks
	for i, expires := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour), {}} {
		must(s.PutArtifact(ctx(t), store.Artifact{JobID: jobs[i].ID, Filename: "a.zip", Format: "zip", Expires: expires},
			bytes.NewReader(big)))(t)
	}
	if n := must(s.DeleteExpiredArtifacts(ctx(t), now))(t); n != 1 {
		t.Fatalf("deleted %d archives, want 1", n)
	}
	wantErr(t, func() error { _, err := s.Artifact(ctx(t), jobs[0].ID); return err }(), store.ErrNotFound, "an expired archive")
	for _, j := range jobs[1:] {
		if a := must(s.Artifact(ctx(t), j.ID))(t); a.Size != int64(len(big)) {
			t.Fatalf("archive of %s: %+v", j.Name, a)
		}
	}
	var chunks int
	noErr(t, b.Raw.QueryRowContext(ctx(t), "SELECT count(*) FROM artifact_chunks").Scan(&chunks))
	if chunks != 6 {
		t.Fatalf("%d chunks left, want the 6 of the two archives kept", chunks)
	}
	if n := must(s.DeleteExpiredArtifacts(ctx(t), now))(t); n != 0 {
		t.Fatalf("a second sweep deleted %d", n)
	}
}
