package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// testDeliveries: a webhook delivery id is claimed once per repository,
// remembers its build, can be released, and is pruned by age.
func testDeliveries(t *testing.T, b Backend) {
	s := b.Store
	f := newFixture(t, s)
	other := must(s.CreateRepo(ctx(t), store.Repo{OwnerID: f.user.ID, Namespace: "octo", Name: "other"}))(t)
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	claimed, build := must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-1", day))(t)
	if !claimed || build != 0 {
		t.Fatalf("first delivery: claimed %v, build %d", claimed, build)
	}
	if claimed, build = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-1", day))(t); claimed || build != 0 {
		t.Fatalf("a delivery being built: claimed %v, build %d", claimed, build)
	}
	noErr(t, s.SetDeliveryBuild(ctx(t), f.repo.ID, "d-1", 7))
	if claimed, build = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-1", day.Add(time.Hour)))(t); claimed || build != 7 {
		t.Fatalf("a redelivery: claimed %v, build %d, want build 7", claimed, build)
	}
	// The same id to another repository is another delivery.
	if claimed, _ = must2(s.ClaimDelivery(ctx(t), other.ID, "d-1", day))(t); !claimed {
		t.Fatal("a delivery id of one repository was taken for another")
	}
	wantErr(t, s.SetDeliveryBuild(ctx(t), f.repo.ID, "unknown", 1), store.ErrNotFound, "the build of an unknown delivery")

	// Released (its build could not be made): the redelivery builds.
	_, _ = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-2", day))(t)
	noErr(t, s.ReleaseDelivery(ctx(t), f.repo.ID, "d-2"))
	if claimed, _ = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-2", day.Add(48*time.Hour)))(t); !claimed {
		t.Fatal("a released delivery was not claimed again")
	}

	// Sixteen copies at once: one claims.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			c, _, err := s.ClaimDelivery(ctx(t), f.repo.ID, "d-3", day)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if c {
				wins++
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of 16 concurrent copies claimed a delivery, want 1", wins)
	}

	// Pruned by age: d-1 (both repositories) and d-3 are older than a day
	// before d-2's second claim.
	if n := must(s.PruneDeliveries(ctx(t), day.Add(24*time.Hour)))(t); n != 3 {
		t.Fatalf("pruned %d deliveries, want 3", n)
	}
	if claimed, _ = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-1", day))(t); !claimed {
		t.Fatal("a pruned delivery is still remembered")
	}
	if claimed, _ = must2(s.ClaimDelivery(ctx(t), f.repo.ID, "d-2", day))(t); claimed {
		t.Fatal("a recent delivery was pruned")
	}
	// A deleted repository takes its deliveries along.
	_, _ = must2(s.ClaimDelivery(ctx(t), other.ID, "d-4", day))(t)
	noErr(t, s.DeleteRepo(ctx(t), other.ID))
	var left int
	noErr(t, b.Raw.QueryRowContext(ctx(t), "SELECT count(*) FROM hook_deliveries WHERE repo_id = "+fmt.Sprint(other.ID)).Scan(&left))
	if left != 0 {
		t.Fatalf("%d deliveries of a deleted repository left", left)
	}
}

func must2[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}
