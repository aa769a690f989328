package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slipway-ci/slipway/server/store"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (several servers may run in one test process).
type metrics struct {
	reg      *prometheus.Registry
	claim    prometheus.Histogram
	logBytes prometheus.Counter
}

// runnerFresh is how recently a runner must have been heard from to count
// as connected: a long poll lasts well under it.
const runnerFresh = time.Minute

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		claim: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slipway_claim_duration_seconds",
			Help:    "Time the store takes to find and lease a job for a runner (the claim transaction, whether or not a job was found).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slipway_log_bytes_total",
			Help: "Job log bytes stored.",
		}),
	}
	m.reg.MustRegister(m.claim, m.logBytes, &storeCollector{st: st})
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// instrument wraps the store the GitLab Runner API uses, so claims and log
// appends are measured where they happen without that package knowing.
func (m *metrics) instrument(st store.Store) store.Store {
	return &measuredStore{Store: st, m: m}
}

type measuredStore struct {
	store.Store
	m *metrics
}

func (s *measuredStore) Claim(ctx context.Context, runnerID int64, tags []string, runUntagged bool, lease time.Duration) (store.Claimed, error) {
	start := time.Now()
	c, err := s.Store.Claim(ctx, runnerID, tags, runUntagged, lease)
	s.m.claim.Observe(time.Since(start).Seconds())
	return c, err
}

func (s *measuredStore) AppendLog(ctx context.Context, jobID, offset int64, data []byte) (int64, error) {
	n, err := s.Store.AppendLog(ctx, jobID, offset, data)
	if err == nil {
		s.m.logBytes.Add(float64(len(data)))
	}
	return n, err
}

// storeCollector reads the queue and the runners from the store at each
// scrape, so the numbers are right across restarts and servers.
type storeCollector struct{ st store.Store }

var (
	queueDesc   = prometheus.NewDesc("slipway_queue_depth", "Jobs waiting for a runner (pending).", nil, nil)
	jobsDesc    = prometheus.NewDesc("slipway_jobs", "Jobs by status.", []string{"status"}, nil)
	runnersDesc = prometheus.NewDesc("slipway_runners_connected", "Runners heard from in the last minute.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- jobsDesc
	ch <- runnersDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts, err := c.st.CountJobs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[store.JobPending]))
		for _, st := range []store.JobStatus{store.JobCreated, store.JobPending, store.JobRunning, store.JobSuccess, store.JobFailed, store.JobCanceled, store.JobSkipped, store.JobManual} {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
		}
	}
	runners, err := c.st.ListRunners(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(runnersDesc, err)
		return
	}
	connected := 0
	for _, r := range runners {
		if time.Since(r.Contacted) < runnerFresh {
			connected++
		}
	}
	ch <- prometheus.MustNewConstMetric(runnersDesc, prometheus.GaugeValue, float64(connected))
}
