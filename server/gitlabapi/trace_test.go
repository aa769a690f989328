package gitlabapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

const oneJob = "job:\n  image: busybox:1.35\n  script: [\"true\"]\n"

// TestTraceResync: a chunk at the wrong offset is refused with 416 and
// the Range to resend from, and stores nothing; the resent chunk is taken.
func TestTraceResync(t *testing.T) { testTraceResync(t, newEnv(t)) }

func testTraceResync(t *testing.T, e *env) {
	e.queueGitLab(oneJob)
	j := e.take()
	r := e.patch(j, 0, "first line\n").want(t, http.StatusAccepted, "first chunk")
	if r.header.Get("Range") != "0-11" || r.header.Get("X-GitLab-Trace-Update-Interval") == "" {
		t.Fatalf("202 headers %v: want Range 0-11 and X-GitLab-Trace-Update-Interval", r.header)
	}
	for _, start := range []int{0, 5, 12, 100} {
		r := e.patch(j, start, "lost?\n").want(t, http.StatusRequestedRangeNotSatisfiable, "chunk at a wrong offset")
		if r.header.Get("Range") != "0-11" {
			t.Fatalf("416 Range %q, want 0-11", r.header.Get("Range"))
		}
	}
	e.patch(j, 11, "second line\n").want(t, http.StatusAccepted, "chunk resent at the right offset")
	if got := e.log(j.ID); got != "first line\nsecond line\n" {
		t.Fatalf("stored log %q", got)
	}
}

// TestTraceMaskedAcrossChunks: a secret, a masked variable and the job
// token, each split between two chunks at every position, are masked, and
// no stored byte ever holds a piece of them.
func TestTraceMaskedAcrossChunks(t *testing.T) { testTraceMaskedAcrossChunks(t, newEnv(t)) }

func testTraceMaskedAcrossChunks(t *testing.T, e *env) {
	for _, name := range []string{"secret", "masked variable", "job token"} {
		for k := 1; k < 8; k++ {
			e.queueGitLab(oneJob)
			j := e.take()
			value := map[string]string{"secret": secretValue, "masked variable": maskedValue, "job token": j.Token}[name]
			before := "$ echo $X\nvalue="
			head := before + value[:k]
			e.patch(j, 0, head).want(t, http.StatusAccepted, "first half")
			if got := e.log(j.ID); !strings.HasPrefix(before, got) {
				t.Fatalf("%s split at %d: the stored log %q holds its first part", name, k, got)
			}
			tail := value[k:] + " and again " + value + "\ndone\n"
			e.patch(j, len(head), tail).want(t, http.StatusAccepted, "second half")
			e.put(j, "success").want(t, http.StatusOK, "success")
			want := "$ echo $X\nvalue=[MASKED] and again [MASKED]\ndone\n"
			if got := e.log(j.ID); got != want {
				t.Fatalf("%s split at %d: stored log %q, want %q", name, k, got, want)
			}
		}
	}
}

// TestTraceAfterRestart: a restarted server has lost the masking state;
// the runner is told to resend from 0, and the log comes out whole, once,
// with the secret that straddled the restart masked. (The runner resends
// in pieces, so the bytes stored before the restart are skipped across
// calls.)
func TestTraceAfterRestart(t *testing.T) { testTraceAfterRestart(t, newEnv(t)) }

func testTraceAfterRestart(t *testing.T, e *env) {
	e.queueGitLab(oneJob)
	j := e.take()
	head := "line 1\nsecret=" + secretValue[:6]
	e.patch(j, 0, head).want(t, http.StatusAccepted, "before the restart")
	e.serve(e.h.o)
	tail := secretValue[6:] + "\nline 3\n"
	r := e.patch(j, len(head), tail).want(t, http.StatusRequestedRangeNotSatisfiable, "after the restart")
	if r.header.Get("Range") != "0-0" {
		t.Fatalf("416 Range %q, want 0-0 (resend everything)", r.header.Get("Range"))
	}
	// Resent in two pieces, as a runner with a chunk size would.
	e.patch(j, 0, head).want(t, http.StatusAccepted, "the first part resent")
	e.patch(j, len(head), tail).want(t, http.StatusAccepted, "the rest")
	e.put(j, "success").want(t, http.StatusOK, "success")
	if got, want := e.log(j.ID), "line 1\nsecret=[MASKED]\nline 3\n"; got != want {
		t.Fatalf("stored log %q, want %q", got, want)
	}
}

// TestCancel: once the build is cancelled, trace and status answers carry
// Job-Status: canceled, and the runner's final report makes the job
// canceled.
func TestCancel(t *testing.T) { testCancel(t, newEnv(t)) }

func testCancel(t *testing.T, e *env) {
	jobs := e.queueGitLab(oneJob)
	j := e.take()
	if r := e.patch(j, 0, "working\n"); r.header.Get("Job-Status") != "" {
		t.Fatalf("Job-Status %q before any cancel", r.header.Get("Job-Status"))
	}
	check(t, e.st.CancelBuild(t.Context(), jobs[0].BuildID))
	r := e.patch(j, 8, "still working\n").want(t, http.StatusAccepted, "trace of a cancelled job")
	if r.header.Get("Job-Status") != "canceled" {
		t.Fatalf("trace answer Job-Status %q, want canceled", r.header.Get("Job-Status"))
	}
	r = e.put(j, "running").want(t, http.StatusOK, "running")
	if r.header.Get("Job-Status") != "canceled" {
		t.Fatalf("update answer Job-Status %q, want canceled", r.header.Get("Job-Status"))
	}
	e.put(j, "failed", "failure_reason", "script_failure", "exit_code", 143).want(t, http.StatusOK, "failed")
	if got := e.job(j.ID); got.Status != store.JobCanceled || got.ExitCode != 143 {
		t.Fatalf("job %s exit %d, want canceled with exit 143", got.Status, got.ExitCode)
	}
	e.put(j, "running").want(t, http.StatusForbidden, "update of a finished job")
}

// TestLeaseRenewed: trace and status calls renew the lease.
func TestLeaseRenewed(t *testing.T) {
	e := newEnv(t)
	e.queueGitLab(oneJob)
	j := e.take()
	before := e.job(j.ID).LeaseExpires
	time.Sleep(5 * time.Millisecond)
	e.put(j, "running").want(t, http.StatusOK, "running")
	after := e.job(j.ID).LeaseExpires
	time.Sleep(5 * time.Millisecond)
	e.patch(j, 0, "x\n").want(t, http.StatusAccepted, "trace")
	if last := e.job(j.ID).LeaseExpires; !after.After(before) || !last.After(after) {
		t.Fatalf("lease %v, then %v after PUT, %v after PATCH: want it extended each time", before, after, last)
	}
}
