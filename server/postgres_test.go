package server

import (
	"context"
	"os"
	"testing"

	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/postgres"
)

// envPostgres names the test database's URL, as in the store's tests.
const envPostgres = "SLIPWAY_TEST_POSTGRES"

// postgresURL is a fresh schema of the test database
// ($SLIPWAY_TEST_POSTGRES from scripts/postgres.sh), as the store's own
// tests use it: missing is a failure in CI, a skip elsewhere.
func postgresURL(t *testing.T) string {
	base := os.Getenv(envPostgres)
	if base == "" {
		msg := "$" + envPostgres + " is not set; run: scripts/postgres.sh start && eval \"$(scripts/postgres.sh env)\""
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	u, drop, err := postgres.CreateSchema(t.Context(), base, "srv_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return u
}

// TestPushStartsBuildOnPostgres is the push path with --database.
func TestPushStartsBuildOnPostgres(t *testing.T) {
	ts := startServer(t, Options{Database: postgresURL(t)})
	_, builds := ts.pushFile(t, "octo/pg", ".gitlab-ci.yml", gitlabFile)
	if len(builds) != 1 || builds[0].Status != store.BuildPending {
		t.Fatalf("builds %+v", builds)
	}
	jobs, err := ts.st.Jobs(context.Background(), builds[0].ID)
	if err != nil || len(jobs) != 5 {
		t.Fatalf("jobs %v %v", names(jobs), err)
	}
	for _, j := range jobs {
		checkDocument(t, j, "gitlab", ".gitlab-ci.yml")
	}
}

// TestWebhooksAndRestartOnPostgres: mirrors, webhooks and restarts with
// --database.
func TestWebhooksAndRestartOnPostgres(t *testing.T) {
	ts := startServer(t, Options{Database: postgresURL(t)})
	testMirrorWebhooks(t, ts)
	testRestart(t, ts)
}
