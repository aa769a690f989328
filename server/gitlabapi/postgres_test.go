package gitlabapi

import (
	"context"
	"os"
	"testing"

	"github.com/slipway-ci/slipway/server/store/postgres"
)

// TestOnPostgres runs the replays, the concurrent polls and the log checks
// on PostgreSQL ($SLIPWAY_TEST_POSTGRES from scripts/postgres.sh): missing
// is a failure in CI, a skip elsewhere, as in the store's own tests.
func TestOnPostgres(t *testing.T) {
	base := os.Getenv("SLIPWAY_TEST_POSTGRES")
	if base == "" {
		msg := "$SLIPWAY_TEST_POSTGRES is not set; run: scripts/postgres.sh start && eval \"$(scripts/postgres.sh env)\""
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for name, fn := range map[string]func(*testing.T, *env){
		"ReplayRegister": testReplayRegister, "ReplayRun": testReplayRun, "ConcurrentRequests": testConcurrentRequests,
		"TraceResync": testTraceResync, "TraceMaskedAcrossChunks": testTraceMaskedAcrossChunks,
		"TraceAfterRestart": testTraceAfterRestart, "Cancel": testCancel, "BadInput": testBadInput,
	} {
		t.Run(name, func(t *testing.T) {
			u, drop, err := postgres.CreateSchema(t.Context(), base, "gapi_")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := drop(context.Background()); err != nil {
					t.Error(err)
				}
			})
			st, err := postgres.Open(t.Context(), u, sealer(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			fn(t, newEnvOn(t, st))
		})
	}
}
