package server

import (
	"context"
	"fmt"
	"time"
)

// sweep deletes, at start and every Options.Sweep, what the store keeps
// only for a while: the artifacts archives past their expire_in (the
// runner API refuses them already; their chunks would stay for good), and
// the delivery ids of webhooks older than deliveryMemory.
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(s.opts.Sweep)
	defer t.Stop()
	for now := time.Now(); ; {
		s.sweepOnce(ctx, now)
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
	}
}

func (s *Server) sweepOnce(ctx context.Context, now time.Time) {
	n, err := s.st.DeleteExpiredArtifacts(ctx, now)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(s.opts.Log, "slipway server: delete expired artifacts: %v\n", err)
	}
	if n > 0 {
		fmt.Fprintf(s.opts.Log, "slipway server: deleted %d expired artifacts archives\n", n)
	}
	if _, err := s.st.PruneDeliveries(ctx, now.Add(-deliveryMemory)); err != nil && ctx.Err() == nil {
		fmt.Fprintf(s.opts.Log, "slipway server: forget old webhook deliveries: %v\n", err)
	}
}
