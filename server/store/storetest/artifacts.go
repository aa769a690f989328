package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// testArtifacts: an archive larger than a chunk comes back byte for byte
// with its size and hash; a second upload replaces the first; a job
// without one, or an unknown job, is ErrNotFound.
func testArtifacts(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	_, jobs := newBuild(t, s, f.repo.ID, job("build"), job("test"))
	id := jobs[0].ID
	if _, err := s.Artifact(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Artifact of a job without one: %v", err)
	}
	data := make([]byte, 2<<20+123) // three chunks, the last a short one
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	a := must(s.PutArtifact(ctx(t), store.Artifact{JobID: id, Filename: "artifacts.zip", Format: "zip"},
		bytes.NewReader(data)))(t)
	if a.Size != int64(len(data)) || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("PutArtifact = %+v", a)
	}
	got := must(s.Artifact(ctx(t), id))(t)
	if got.Size != a.Size || got.SHA256 != a.SHA256 || got.Filename != "artifacts.zip" || got.Format != "zip" || got.Created.IsZero() {
		t.Fatalf("Artifact = %+v, want %+v", got, a)
	}
	var out bytes.Buffer
	noErr(t, s.ReadArtifact(ctx(t), id, &out))
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("ReadArtifact returned %d bytes, not the %d stored", out.Len(), len(data))
	}

	must(s.PutArtifact(ctx(t), store.Artifact{JobID: id, Filename: "b.gz", Format: "gzip",
		Expires: time.Now().Add(time.Hour)}, bytes.NewReader([]byte("second"))))(t)
	out.Reset()
	noErr(t, s.ReadArtifact(ctx(t), id, &out))
	if out.String() != "second" {
		t.Fatalf("after a second upload: %q", out.String())
	}
	if got := must(s.Artifact(ctx(t), id))(t); got.Size != 6 || got.Format != "gzip" || got.Expires.IsZero() {
		t.Fatalf("after a second upload: %+v", got)
	}
	// An empty archive is an archive.
	must(s.PutArtifact(ctx(t), store.Artifact{JobID: jobs[1].ID, Filename: "e", Format: "raw"}, bytes.NewReader(nil)))(t)
	out.Reset()
	noErr(t, s.ReadArtifact(ctx(t), jobs[1].ID, &out))
	if out.Len() != 0 {
		t.Fatalf("empty archive read back as %d bytes", out.Len())
	}
	if _, err := s.PutArtifact(ctx(t), store.Artifact{JobID: id + 1000, Format: "zip"}, bytes.NewReader(data)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutArtifact for an unknown job: %v", err)
	}
	if err := s.ReadArtifact(ctx(t), id+1000, &out); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadArtifact of an unknown job: %v", err)
	}
}

// testArtifactsCascade: deleting the repository deletes its archives.
func testArtifactsCascade(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	_, jobs := newBuild(t, s, f.repo.ID, job("build"))
	must(s.PutArtifact(ctx(t), store.Artifact{JobID: jobs[0].ID, Format: "zip"}, bytes.NewReader([]byte("zip"))))(t)
	noErr(t, s.DeleteRepo(ctx(t), f.repo.ID))
	var n int
	noErr(t, b.Raw.QueryRowContext(ctx(t), "SELECT COUNT(*) FROM artifact_chunks").Scan(&n))
	if n != 0 {
		t.Fatalf("%d artifact chunks left after the repository was deleted", n)
	}
}

// testQueueChanged: a new build wakes a waiting claimer at once; a log
// append does not.
func testQueueChanged(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	woken := s.QueueChanged()
	_, jobs := newBuild(t, s, f.repo.ID, job("a"))
	select {
	case <-woken:
	case <-time.After(time.Second):
		t.Fatal("CreateBuild did not close QueueChanged")
	}
	woken = s.QueueChanged()
	must(s.AppendLog(ctx(t), jobs[0].ID, 0, []byte("x")))(t)
	select {
	case <-woken:
		t.Fatal("AppendLog closed QueueChanged")
	default:
	}
}

// testRequeueLog: a job requeued after its lease lapsed starts a new log
// (the next runner sends its own from offset 0); one failed for good
// keeps what its runner sent.
func testRequeueLog(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	r := must(s.CreateRunner(ctx(t), store.Runner{Description: "r", RunUntagged: true}, "glrt-requeue-log"))(t)
	newBuild(t, s, f.repo.ID, job("a"))
	for attempt, want := range []store.JobStatus{store.JobPending, store.JobFailed} {
		c := must(s.Claim(ctx(t), r.ID, nil, true, time.Millisecond))(t)
		must(s.AppendLog(ctx(t), c.Job.ID, 0, []byte("attempt output\n")))(t)
		time.Sleep(5 * time.Millisecond)
		jobs := must(s.ExpireLeases(ctx(t), time.Now()))(t)
		if len(jobs) != 1 || jobs[0].Status != want {
			t.Fatalf("attempt %d: ExpireLeases = %+v, want the job %s", attempt, jobs, want)
		}
		log := string(must(s.ReadLog(ctx(t), c.Job.ID, 0, 0))(t))
		j := must(s.Job(ctx(t), c.Job.ID))(t)
		if want == store.JobPending && (log != "" || j.LogLength != 0) {
			t.Fatalf("requeued job keeps a log of %d bytes: %q", j.LogLength, log)
		}
		if want == store.JobFailed && log != "attempt output\n" {
			t.Fatalf("failed job's log: %q", log)
		}
	}
}
