package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCheckout writes the key into the directory, counting its calls.
func fakeCheckout(calls *atomic.Int32, key string) func(context.Context, string) error {
	return func(_ context.Context, dir string) error {
		calls.Add(1)
		return os.WriteFile(filepath.Join(dir, "key"), []byte(key), 0o644)
	}
}

func getCheckout(t *testing.T, c *checkouts, key string, fill func(context.Context, string) error) (*sharedCheckout, bool) {
	t.Helper()
	sc, reused, err := c.get(context.Background(), key, fill)
	if err != nil {
		t.Errorf("get %s: %v", key, err) // not Fatal: some callers are goroutines
	}
	return sc, reused
}

// Two jobs of one key at once: one checkout, which the second waits for
// and then sees whole.
func TestCheckoutsShareOneCheckoutPerKey(t *testing.T) {
	c := newCheckouts(t.TempDir(), 4)
	var calls atomic.Int32
	started, proceed := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, dir string) error {
		close(started)
		<-proceed
		return fakeCheckout(&calls, "a")(ctx, dir)
	}
	var first *sharedCheckout
	var wg sync.WaitGroup
	wg.Go(func() { first, _ = getCheckout(t, c, "a", slow) })
	<-started
	type got struct {
		sc     *sharedCheckout
		reused bool
	}
	second := make(chan got)
	go func() {
		sc, reused := getCheckout(t, c, "a", fakeCheckout(&calls, "a"))
		second <- got{sc, reused}
	}()
	select {
	case <-second:
		t.Fatal("the second job did not wait for the first one's checkout")
	case <-time.After(100 * time.Millisecond):
	}
	close(proceed)
	wg.Wait()
	g := <-second
	if calls.Load() != 1 || !g.reused || g.sc != first {
		t.Fatalf("%d checkouts, reused %v, same %v", calls.Load(), g.reused, g.sc == first)
	}
	if data, err := os.ReadFile(filepath.Join(g.sc.dir, "key")); err != nil || string(data) != "a" {
		t.Errorf("the second job sees %q, %v", data, err)
	}
	c.release(first)
	c.release(g.sc)
	c.close()
	if _, err := os.Stat(first.dir); !os.IsNotExist(err) {
		t.Errorf("close left %s: %v", first.dir, err)
	}
}

// Different keys get different directories, each checked out.
func TestCheckoutsOfDifferentKeys(t *testing.T) {
	c := newCheckouts(t.TempDir(), 4)
	var calls atomic.Int32
	a, ra := getCheckout(t, c, checkoutKey("s", GitInfo{RepoURL: "r", Sha: "1"}), fakeCheckout(&calls, "a"))
	b, rb := getCheckout(t, c, checkoutKey("s", GitInfo{RepoURL: "r", Sha: "1", Depth: 1}), fakeCheckout(&calls, "b"))
	if a.dir == b.dir || ra || rb || calls.Load() != 2 {
		t.Errorf("dirs %s %s, reused %v %v, %d checkouts", a.dir, b.dir, ra, rb, calls.Load())
	}
	if checkoutKey("s", GitInfo{RepoURL: "r", Sha: "1"}) == checkoutKey("t", GitInfo{RepoURL: "r", Sha: "1"}) {
		t.Error("two servers' jobs share a checkout")
	}
	c.release(a)
	// Released, a is kept for the next job of its key.
	again, reused := getCheckout(t, c, checkoutKey("s", GitInfo{RepoURL: "r", Sha: "1"}), fakeCheckout(&calls, "a"))
	if !reused || again.dir != a.dir || calls.Load() != 2 {
		t.Errorf("after release: reused %v, dir %s, %d checkouts", reused, again.dir, calls.Load())
	}
}

// Beyond keep unused checkouts, the least recently used are removed;
// one in use is never.
func TestCheckoutsEvictTheLeastRecentlyUsed(t *testing.T) {
	c := newCheckouts(t.TempDir(), 2)
	var calls atomic.Int32
	used, _ := getCheckout(t, c, "used", fakeCheckout(&calls, "used"))
	var dirs []string
	for _, k := range []string{"1", "2", "3"} {
		sc, _ := getCheckout(t, c, k, fakeCheckout(&calls, k))
		dirs = append(dirs, sc.dir)
		c.release(sc)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("the least recently used checkout is still there: %v", err)
	}
	for _, d := range append(dirs[1:], used.dir) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a checkout kept is gone: %v", err)
		}
	}
	// "2" used again becomes the most recent: "3" goes when "4" comes.
	two, reused := getCheckout(t, c, "2", fakeCheckout(&calls, "2"))
	if !reused {
		t.Fatal("checkout 2 was not kept")
	}
	c.release(two)
	four, _ := getCheckout(t, c, "4", fakeCheckout(&calls, "4"))
	c.release(four)
	if _, err := os.Stat(dirs[2]); !os.IsNotExist(err) {
		t.Errorf("checkout 3 is still there: %v", err)
	}
	if _, err := os.Stat(dirs[1]); err != nil {
		t.Errorf("checkout 2, used last but one, is gone: %v", err)
	}
	c.release(used)
	c.close()
	if left, _ := os.ReadDir(c.root); len(left) > 0 {
		t.Errorf("close left %d directories", len(left))
	}
}

// A failed checkout is not kept: its directory is removed, a job waiting
// for it tries its own, and so does the next job.
func TestCheckoutsForgetAFailure(t *testing.T) {
	c := newCheckouts(t.TempDir(), 4)
	var calls atomic.Int32
	started, proceed := make(chan struct{}), make(chan struct{})
	boom := errors.New("boom")
	failing := func(_ context.Context, dir string) error {
		calls.Add(1)
		close(started)
		<-proceed
		return boom
	}
	first := make(chan error)
	go func() {
		_, _, err := c.get(context.Background(), "k", failing)
		first <- err
	}()
	<-started
	second := make(chan error)
	go func() {
		_, _, err := c.get(context.Background(), "k", func(context.Context, string) error { calls.Add(1); return errors.New("own") })
		second <- err
	}()
	time.Sleep(50 * time.Millisecond) // the second job waits for the first one's checkout
	close(proceed)
	if err := <-first; !errors.Is(err, boom) {
		t.Errorf("first: %v", err)
	}
	if err := <-second; err == nil || err.Error() != "own" {
		t.Errorf("second: %v, want its own error", err)
	}
	sc, reused := getCheckout(t, c, "k", fakeCheckout(&calls, "k"))
	if reused || calls.Load() != 3 {
		t.Errorf("after the failures: reused %v, %d checkouts", reused, calls.Load())
	}
	c.release(sc)
	if left, _ := os.ReadDir(c.root); len(left) != 1 {
		t.Errorf("%d directories, want the one good checkout", len(left))
	}
	c.close()
}

// A job canceled while it waits for another's checkout stops waiting;
// the checkout goes on for the job that makes it.
func TestCheckoutsWaitEndsWithTheJob(t *testing.T) {
	c := newCheckouts(t.TempDir(), 4)
	var calls atomic.Int32
	started, proceed := make(chan struct{}), make(chan struct{})
	go func() {
		sc, _ := getCheckout(t, c, "k", func(ctx context.Context, dir string) error {
			close(started)
			<-proceed
			return fakeCheckout(&calls, "k")(ctx, dir)
		})
		c.release(sc)
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.get(ctx, "k", fakeCheckout(&calls, "k")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: %v", err)
	}
	close(proceed)
	sc, _ := getCheckout(t, c, "k", fakeCheckout(&calls, "k"))
	if calls.Load() != 1 {
		t.Errorf("%d checkouts", calls.Load())
	}
	c.release(sc)
	c.close()
}
