package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/agent/agenttest"
)

// TestTraceStopsTheJobWhenTheServerIsSilent: a server that takes requests
// and never answers (a cut network) makes the trace stop the job after
// half its lease, though every call to it hangs.
func TestTraceStopsTheJobWhenTheServerIsSilent(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	var canceled atomic.Int64
	start := time.Now()
	tr := newTrace(&Client{URL: srv.URL}, 9, "tok", func() { canceled.CompareAndSwap(0, int64(time.Since(start))) })
	tr.interval = 10 * time.Millisecond
	tr.leased(800 * time.Millisecond)
	tr.start(context.Background())
	_, _ = tr.Write([]byte("output\n"))
	deadline := time.Now().Add(5 * time.Second)
	for canceled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := time.Duration(canceled.Load())
	if got == 0 || got < 400*time.Millisecond || got > 2*time.Second {
		t.Fatalf("the job was stopped after %s, want about 400ms (half the lease)", got)
	}
	close(tr.stop)
	tr.stop = nil
	tr.mu.Lock()
	buf := make([]byte, tr.size)
	_, _ = tr.spool.readAt(buf, 0)
	tr.mu.Unlock()
	if !strings.Contains(string(buf), "no answer from the server") {
		t.Errorf("the log does not say why the job stopped: %q", buf)
	}
}

// TestTraceKeepsAJobTheServerAnswersFor: answers keep the fence away.
func TestTraceKeepsAJobTheServerAnswersFor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var canceled atomic.Bool
	tr := newTrace(&Client{URL: srv.URL}, 9, "tok", func() { canceled.Store(true) })
	tr.leased(400 * time.Millisecond)
	tr.start(context.Background())
	time.Sleep(time.Second)
	_ = tr.finish(context.Background())
	if canceled.Load() {
		t.Fatal("a job whose server answers its keep-alives was stopped")
	}
}

// TestTraceSendsABurstWithoutWaiting: output beyond a PATCH's worth goes
// at once, not after the interval: a job printing fast does not pile its
// log up behind it.
func TestTraceSendsABurstWithoutWaiting(t *testing.T) {
	f := agenttest.NewServer(t)
	tr := newTrace(&Client{URL: f.URL}, 11, agenttest.JobToken(11), func() {})
	tr.interval = time.Minute
	tr.start(context.Background())
	defer func() { _ = tr.finish(context.Background()) }()
	_, _ = tr.Write([]byte("first line\n")) // the first output goes at once
	burst := strings.Repeat("0123456789abcdef", 3*maxPatch/16)
	_, _ = tr.Write([]byte(burst))
	deadline := time.Now().Add(10 * time.Second)
	for len(f.Trace(11)) < 2*maxPatch {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s of a 1 min interval the server holds %d bytes of a %d-byte burst", len(f.Trace(11)), len(burst))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
