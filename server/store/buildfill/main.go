// Command buildfill stores finished builds in a slipway server's SQLite
// database, as a runner would have left them: each build has two jobs,
// claimed by a runner, with a log, and finished (one in ten failed). It is
// how bench/server-memory.sh gets a server with 10,000 stored builds
// without running 20,000 containers.
//
//	go run ./server/store/buildfill -data DIR -repo NS/NAME [-builds 10000]
//
// DIR is the server's --data-dir (its slipway.db and secret.key); the
// repository must exist; the server must not be running. It lives under
// server/store because only server packages may import the store.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/sqlite"
)

func main() {
	data := flag.String("data", "", "the server's --data-dir")
	slug := flag.String("repo", "", "the repository (NS/NAME) the builds belong to")
	n := flag.Int("builds", 10000, "how many builds to store")
	flag.Parse()
	if err := run(context.Background(), *data, *slug, *n); err != nil {
		fmt.Fprintln(os.Stderr, "buildfill:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, slug string, n int) error {
	ns, name, ok := strings.Cut(slug, "/")
	if data == "" || !ok {
		return errors.New("usage: buildfill -data DIR -repo NS/NAME [-builds N]")
	}
	box, err := secretbox.Load(filepath.Join(data, "secret.key"))
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "slipway.db"), box)
	if err != nil {
		return err
	}
	defer st.Close()
	repo, err := st.Repo(ctx, ns, name)
	if err != nil {
		return fmt.Errorf("repository %s: %w", slug, err)
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token) // crypto/rand.Read never fails
	runner, err := st.CreateRunner(ctx, store.Runner{Description: "buildfill", RunUntagged: true}, "glrt-"+hex.EncodeToString(token))
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range n {
		if err := storeBuild(ctx, st, repo.ID, runner.ID, i); err != nil {
			return fmt.Errorf("build %d: %w", i+1, err)
		}
	}
	fmt.Fprintf(os.Stderr, "buildfill: %d builds of %s stored in %s\n", n, slug, time.Since(start).Round(time.Millisecond))
	return nil
}

// document stands for a job's wire form (the store does not look inside):
// about the size of a small real one.
var document = []byte(`{"job":"` + strings.Repeat("x", 1200) + `"}`)

// logText is about a kilobyte of a job's log.
var logText = []byte(strings.Repeat("$ make test\nok  \tgithub.com/example/app\t0.012s\n", 22))

// storeBuild creates a push build of two jobs and runs them through the
// queue as a runner does: claim, log, finish.
func storeBuild(ctx context.Context, st store.Store, repoID, runnerID int64, i int) error {
	jobs := []store.Job{{Name: "build", Stage: "build", Document: document}, {Name: "test", Stage: "test", Needs: []string{"build"}, Document: document}}
	b := store.Build{RepoID: repoID, Event: "push", Sender: "bench", Ref: "refs/heads/main",
		Commit: fmt.Sprintf("%040x", i+1), Message: fmt.Sprintf("commit %d", i+1)}
	if _, _, err := st.CreateBuild(ctx, b, jobs); err != nil {
		return err
	}
	for k := range jobs {
		c, err := st.Claim(ctx, runnerID, nil, true, time.Minute)
		if err != nil {
			return err
		}
		if _, err := st.AppendLog(ctx, c.Job.ID, 0, logText); err != nil {
			return err
		}
		r := store.Result{Status: store.JobSuccess}
		if k == 1 && i%10 == 9 {
			r = store.Result{Status: store.JobFailed, ExitCode: 1, FailureReason: "script_failure"}
		}
		if err := st.Finish(ctx, c.Job.ID, runnerID, r); err != nil {
			return err
		}
	}
	return nil
}
