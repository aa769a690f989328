package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
