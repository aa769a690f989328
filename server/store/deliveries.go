package store

import (
	"context"
	"time"
)

// Deliveries remember the webhook deliveries each repository received
// (GitHub's X-GitHub-Delivery, Gitea's X-Gitea-Delivery, GitLab's
// X-Gitlab-Event-UUID), so that a delivery sent again (a forge's
// "redeliver", or its retry after a timeout) does not build twice.
type Deliveries interface {
	// ClaimDelivery records delivery id of the repository, received at
	// at. When it was recorded before, claimed is false and build is the
	// number of the build it made (0: that build is still being made).
	ClaimDelivery(ctx context.Context, repoID int64, id string, at time.Time) (claimed bool, build int64, err error)
	// SetDeliveryBuild records the build a claimed delivery made.
	SetDeliveryBuild(ctx context.Context, repoID int64, id string, build int64) error
	// ReleaseDelivery forgets a claimed delivery that made no build, so
	// that the forge's redelivery is built.
	ReleaseDelivery(ctx context.Context, repoID int64, id string) error
	// PruneDeliveries forgets the deliveries received before before, and
	// says how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}
