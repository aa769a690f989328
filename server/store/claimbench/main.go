// Command claimbench measures the job queue: claims per second with 1, 4
// and 16 concurrent claimers, on SQLite and on PostgreSQL, each as a ratio
// against a baseline measured on the same database in the same run, with
// the same concurrency: a plain INSERT and DELETE of one row, each its own
// transaction (a claim is two writes too: the job's lease and the build's
// start).
//
//	go run ./server/store/claimbench [-short] [-postgres URL]
//
// -postgres defaults to $SLIPWAY_TEST_POSTGRES (scripts/postgres.sh env);
// without it only SQLite is measured, except with CI=true, where that is an
// error. It also prints jobs per second for a claim followed by a finish (a
// runner with a no-op engine). Baseline and claims alternate, repetition by
// repetition, and the medians are shown.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/postgres"
	"github.com/slipway-ci/slipway/server/store/sqlite"
)

// config is the size of a run.
type config struct {
	jobs, perBuild, reps int
}

// backend is a fresh store and its raw database handle.
type backend struct {
	name  string
	store store.Store
	raw   *sql.DB
	close func()
	// prepare the baseline's statements, as the store does on SQLite
	// (pgx keeps its own cache of prepared statements).
	prepare bool
}

func main() {
	short := flag.Bool("short", false, "CI mode: few jobs, one repetition; proves the benchmark works")
	pgURL := flag.String("postgres", os.Getenv("SLIPWAY_TEST_POSTGRES"), "PostgreSQL URL (default $SLIPWAY_TEST_POSTGRES)")
	flag.Parse()
	cfg := config{jobs: 2000, perBuild: 10, reps: 3}
	if *short {
		cfg = config{jobs: 160, perBuild: 10, reps: 1}
	}
	if err := run(context.Background(), cfg, *pgURL); err != nil {
		fmt.Fprintln(os.Stderr, "claimbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, pgURL string) error {
	if pgURL == "" && os.Getenv("CI") == "true" {
		return errors.New("$SLIPWAY_TEST_POSTGRES is not set (scripts/postgres.sh start; eval \"$(scripts/postgres.sh env)\")")
	}
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "claimbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opens := []func(context.Context) (backend, error){
		func(ctx context.Context) (backend, error) { return openSQLite(ctx, dir, box) },
	}
	if pgURL != "" {
		opens = append(opens, func(ctx context.Context) (backend, error) { return openPostgres(ctx, pgURL, box) })
	} else {
		fmt.Fprintln(os.Stderr, "claimbench: no PostgreSQL URL; measuring SQLite only")
	}
	fmt.Printf("claims per second, %d jobs per measurement in builds of %d, %d repetition(s), medians\n",
		cfg.jobs, cfg.perBuild, cfg.reps)
	fmt.Println("baseline: one INSERT and one DELETE, each its own transaction, same database and concurrency")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "database\tclaimers\tclaims/s\tbaseline ops/s\tratio\tjobs/s (claim+finish)\tratio\t")
	for _, open := range opens {
		for _, n := range []int{1, 4, 16} {
			row, err := measure(ctx, open, cfg, n)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, row)
		}
	}
	return w.Flush()
}

func openSQLite(ctx context.Context, dir string, box store.Sealer) (backend, error) {
	path := filepath.Join(dir, fmt.Sprintf("bench-%d.db", time.Now().UnixNano()))
	s, err := sqlite.Open(ctx, path, box)
	if err != nil {
		return backend{}, err
	}
	return backend{name: "sqlite", store: s, raw: s.Raw(), close: func() { s.Close() }, prepare: true}, nil
}

func openPostgres(ctx context.Context, base string, box store.Sealer) (backend, error) {
	u, drop, err := postgres.CreateSchema(ctx, base, "bench_")
	if err != nil {
		return backend{}, err
	}
	s, err := postgres.Open(ctx, u, box)
	if err != nil {
		return backend{}, errors.Join(err, drop(ctx))
	}
	return backend{name: "postgres", store: s, raw: s.Raw(), close: func() {
		s.Close()
		if err := drop(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "claimbench:", err)
		}
	}}, nil
}

// measure is one row: baseline, claims and claim+finish cycles alternate
// for cfg.reps repetitions on one fresh store.
func measure(ctx context.Context, open func(context.Context) (backend, error), cfg config, claimers int) (string, error) {
	b, err := open(ctx)
	if err != nil {
		return "", err
	}
	defer b.close()
	repo, err := setUp(ctx, b)
	if err != nil {
		return "", err
	}
	var base, claims, cycles []float64
	for range cfg.reps {
		r, err := baseline(ctx, b, cfg.jobs, claimers)
		if err != nil {
			return "", fmt.Errorf("%s baseline: %w", b.name, err)
		}
		base = append(base, r)
		for _, finish := range []bool{false, true} {
			if err := queue(ctx, b.store, repo, cfg); err != nil {
				return "", err
			}
			r, err := drain(ctx, b.store, cfg.jobs, claimers, finish)
			if err != nil {
				return "", fmt.Errorf("%s claims: %w", b.name, err)
			}
			if finish {
				cycles = append(cycles, r)
			} else {
				claims = append(claims, r)
			}
		}
	}
	mb, mc, my := median(base), median(claims), median(cycles)
	return fmt.Sprintf("%s\t%d\t%.0f\t%.0f\t%.2f×\t%.0f\t%.2f×\t", b.name, claimers, mc, mb, mc/mb, my, my/mb), nil
}

// setUp makes the repository the jobs belong to and the baseline's table.
func setUp(ctx context.Context, b backend) (int64, error) {
	u, err := b.store.CreateUser(ctx, store.User{Login: "bench"}, "bench-token")
	if err != nil {
		return 0, err
	}
	r, err := b.store.CreateRepo(ctx, store.Repo{OwnerID: u.ID, Namespace: "bench", Name: "queue", MaxRequeues: -1})
	if err != nil {
		return 0, err
	}
	_, err = b.raw.ExecContext(ctx, "CREATE TABLE bench_baseline (id BIGINT PRIMARY KEY, v TEXT NOT NULL)")
	return r.ID, err
}

// queue fills the queue with cfg.jobs pending jobs (not timed).
func queue(ctx context.Context, s store.Store, repoID int64, cfg config) error {
	for i := 0; i < cfg.jobs; i += cfg.perBuild {
		jobs := make([]store.Job, cfg.perBuild)
		for k := range jobs {
			jobs[k] = store.Job{Name: fmt.Sprintf("job-%d", k), Document: []byte(`{"script":["true"]}`)}
		}
		if _, _, err := s.CreateBuild(ctx, store.Build{RepoID: repoID, Event: "push"}, jobs); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs work on n goroutines until each has done its share of
// total, and returns operations per second.
func parallel(total, n int, work func(worker, i int) error) (float64, error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for w := range n {
		share := total / n
		if w < total%n {
			share++
		}
		wg.Go(func() {
			for i := range share {
				if err := work(w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(total) / elapsed.Seconds(), nil
}

// drain claims (and with finish, finishes) every queued job.
func drain(ctx context.Context, s store.Store, total, claimers int, finish bool) (float64, error) {
	return parallel(total, claimers, func(w, _ int) error {
		runnerID := int64(w + 1)
		c, err := s.Claim(ctx, runnerID, nil, true, time.Minute)
		if err != nil || !finish {
			return err
		}
		return s.Finish(ctx, c.Job.ID, runnerID, store.Result{Status: store.JobSuccess})
	})
}

// baseline inserts and deletes rows of a plain table: what any write costs
// on this database, this machine, at this concurrency.
func baseline(ctx context.Context, b backend, total, workers int) (float64, error) {
	ins, err := statement(ctx, b, "INSERT INTO bench_baseline (id, v) VALUES ($1, 'x')")
	if err != nil {
		return 0, err
	}
	del, err := statement(ctx, b, "DELETE FROM bench_baseline WHERE id = $1")
	if err != nil {
		return 0, err
	}
	return parallel(total, workers, func(w, i int) error {
		id := int64(w)<<32 | int64(i)
		if _, err := ins(ctx, id); err != nil {
			return err
		}
		_, err := del(ctx, id)
		return err
	})
}

// statement is a function that executes query, prepared where the backend
// prepares.
func statement(ctx context.Context, b backend, query string) (func(context.Context, ...any) (sql.Result, error), error) {
	if !b.prepare {
		return func(ctx context.Context, args ...any) (sql.Result, error) {
			return b.raw.ExecContext(ctx, query, args...)
		}, nil
	}
	st, err := b.raw.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext, nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
