package live_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/sqlite"
)

func TestHub(t *testing.T) {
	var h live.Hub
	a, b := h.Wait(live.Log(1)), h.Wait(live.Builds)
	h.Notify(live.Log(2))
	select {
	case <-a:
		t.Fatal("another job's log woke the waiter")
	default:
	}
	h.Notify(live.Log(1))
	<-a
	select {
	case <-b:
		t.Fatal("a log woke the builds' waiter")
	default:
	}
	if again := h.Wait(live.Log(1)); again == a {
		t.Error("a notified topic hands out its closed channel again")
	}
	var none *live.Hub
	none.Notify(live.Builds) // a nil hub wakes nobody and does not panic
	if none.Wait(live.Builds) != nil {
		t.Error("a nil hub's Wait is not the never-ready nil channel")
	}
}

func TestCuts(t *testing.T) {
	for _, tc := range []struct {
		data        string
		final       bool
		lines, runs int
	}{
		{"one\ntw", false, 4, 6},
		{"one\ntw", true, 6, 6},
		{"caf\xc3", false, 0, 3},
		{"caf\xc3", true, 4, 4},
		{"", false, 0, 0},
	} {
		if got := live.WholeLines([]byte(tc.data), tc.final); got != tc.lines {
			t.Errorf("WholeLines(%q, %v) = %d, want %d", tc.data, tc.final, got, tc.lines)
		}
		if got := live.WholeRunes([]byte(tc.data), tc.final); got != tc.runs {
			t.Errorf("WholeRunes(%q, %v) = %d, want %d", tc.data, tc.final, got, tc.runs)
		}
	}
	long := strings.Repeat("x", live.Chunk)
	if got := live.WholeLines([]byte(long), false); got != live.Chunk {
		t.Errorf("a line longer than a chunk is held back (%d)", got)
	}
}

// recorder is a Sink that keeps what it is sent.
type recorder struct {
	mu   sync.Mutex
	log  strings.Builder
	ends []int64
	sent chan struct{}
	end  store.JobStatus
}

func (r *recorder) Cut(data []byte, final bool) int { return live.WholeLines(data, final) }
func (r *recorder) KeepAlive() error                { return nil }
func (r *recorder) End(st store.JobStatus) error    { r.end = st; return nil }
func (r *recorder) Send(data []byte, end int64) error {
	r.mu.Lock()
	r.log.Write(data)
	r.ends = append(r.ends, end)
	r.mu.Unlock()
	r.sent <- struct{}{}
	return nil
}

// TestFollowWakes: with an hour's poll, only the hub can bring an append
// or the job's end to the follower in time.
func TestFollowWakes(t *testing.T) {
	dir := t.TempDir()
	box, err := secretbox.Load(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"), box)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hub := &live.Hub{}
	st := live.Notifying(raw, hub)
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, store.User{Login: "u"}, "tok")
	repo, _ := st.CreateRepo(ctx, store.Repo{OwnerID: u.ID, Namespace: "a", Name: "b", MaxRequeues: -1})
	_, _, err = st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: "push", Ref: "refs/heads/main", Commit: strings.Repeat("a", 40)},
		[]store.Job{{Name: "j", Document: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	rn, _ := st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-x")
	c, err := st.Claim(ctx, rn.ID, nil, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{sent: make(chan struct{}, 10)}
	f := live.Follower{Store: st, Hub: hub, Poll: time.Hour, KeepAlive: time.Hour}
	done := make(chan error, 1)
	go func() { done <- f.Follow(ctx, c.Job.ID, 0, rec) }()
	time.Sleep(50 * time.Millisecond) // the follower waits
	st.AppendLog(ctx, c.Job.ID, 0, []byte("one\ntw"))
	select {
	case <-rec.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("an append did not wake the follower")
	}
	st.AppendLog(ctx, c.Job.ID, 6, []byte("o"))
	if err := st.Finish(ctx, c.Job.ID, rn.ID, store.Result{Status: store.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job's end did not wake the follower")
	}
	if rec.log.String() != "one\ntwo" || rec.end != store.JobSuccess || rec.ends[len(rec.ends)-1] != 7 {
		t.Errorf("followed %q, ends %v, status %s", rec.log.String(), rec.ends, rec.end)
	}
}
