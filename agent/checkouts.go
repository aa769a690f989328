package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
)

// Checkouts shared by the jobs of one commit.
//
// Every job of a pipeline names the same commit. Cloning it again for
// each job, into a fresh directory whose new modification times never
// match a workspace template, made every job clone and copy its
// checkout. The agent checks a commit out once, for the first job that
// needs it; the later jobs of that commit on this runner use the same
// directory. No job writes into it: the engine copies it into the job's
// workspace or overlays a template of it, and the runner only reads it
// (untracked: artifacts, key: files caches).

// keepCheckouts is how many checkouts no job uses are kept for the
// next jobs of their commits; the least recently used beyond are removed.
const keepCheckouts = 4

// errCheckoutDir is a checkout that failed for want of its directory:
// the runner's fault, not the job's.
var errCheckoutDir = errors.New("cannot make the checkout's directory")

// checkouts are the checked-out directories of this agent, by key.
type checkouts struct {
	root string // where directories are made ("": the temporary directory)
	keep int    // unused checkouts kept

	mu    sync.Mutex
	byKey map[string]*sharedCheckout
	clock uint64 // counts releases: orders the unused checkouts by last use
}

// sharedCheckout is one checked-out directory and its users.
type sharedCheckout struct {
	key, dir string
	// done is closed once the checkout ended; err says how. A failed one
	// is out of byKey by then.
	done  chan struct{}
	err   error
	users int
	last  uint64 // the clock when its last user released it
}

func newCheckouts(root string, keep int) *checkouts {
	return &checkouts{root: root, keep: keep, byKey: map[string]*sharedCheckout{}}
}

// checkoutKey says which jobs may share a checkout: those of the same
// server whose git_info is the same (everything checkout uses). The job
// token is not part of it: each job's token reads the same repository.
func checkoutKey(server string, g GitInfo) string {
	b, _ := json.Marshal(struct {
		Server string
		Git    GitInfo
	}{server, g})
	return string(b)
}

// get returns key's checkout and whether an earlier job made it. The
// first job of a key fills a new directory with fill while the others
// wait for it; when that fails (or was canceled with its job), the next
// waiting job tries with its own fill, so each job reports its own
// error. The caller releases the checkout when its job is done with it.
func (c *checkouts) get(ctx context.Context, key string, fill func(ctx context.Context, dir string) error) (*sharedCheckout, bool, error) {
	for {
		c.mu.Lock()
		sc, ok := c.byKey[key]
		if !ok {
			sc = &sharedCheckout{key: key, done: make(chan struct{}), users: 1}
			c.byKey[key] = sc
			c.mu.Unlock()
			return sc, false, c.fill(ctx, sc, fill)
		}
		sc.users++
		c.mu.Unlock()
		select {
		case <-sc.done:
		case <-ctx.Done():
			c.release(sc)
			return nil, false, ctx.Err()
		}
		if sc.err == nil {
			return sc, true, nil
		}
	}
}

// fill makes sc's directory and checks out into it; a failure is
// forgotten, so that the next job of the key tries again.
func (c *checkouts) fill(ctx context.Context, sc *sharedCheckout, fill func(context.Context, string) error) error {
	dir, err := os.MkdirTemp(c.root, "slipway-checkout-")
	if err != nil {
		err = errors.Join(errCheckoutDir, err)
	} else if err = fill(ctx, dir); err != nil {
		_ = os.RemoveAll(dir)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sc.dir, sc.err = dir, err
	if err != nil {
		delete(c.byKey, sc.key)
	}
	close(sc.done)
	return err
}

// release ends one job's use of sc. Once no job uses it, it is kept for
// the next jobs of its commit, but only the keep most recently used.
func (c *checkouts) release(sc *sharedCheckout) {
	c.mu.Lock()
	sc.users--
	if sc.users > 0 || c.byKey[sc.key] != sc {
		c.mu.Unlock()
		return
	}
	c.clock++
	sc.last = c.clock
	var unused []*sharedCheckout
	for _, o := range c.byKey {
		if o.users == 0 {
			unused = append(unused, o)
		}
	}
	slices.SortFunc(unused, func(a, b *sharedCheckout) int { return cmp.Compare(b.last, a.last) })
	var gone []string
	for _, o := range unused[min(c.keep, len(unused)):] {
		delete(c.byKey, o.key)
		gone = append(gone, o.dir)
	}
	c.mu.Unlock()
	for _, dir := range gone {
		_ = os.RemoveAll(dir)
	}
}

// close removes every checkout; no job may use one any more.
func (c *checkouts) close() {
	c.mu.Lock()
	all := c.byKey
	c.byKey = map[string]*sharedCheckout{}
	c.mu.Unlock()
	for _, sc := range all {
		<-sc.done
		if sc.err == nil {
			_ = os.RemoveAll(sc.dir)
		}
	}
}
