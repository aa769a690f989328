// Package live is what makes slipway's pages and log streams move without
// a reload: a Hub that wakes waiters when a job's log grows or a build
// changes, a store wrapper that rings it, and the one log follower both
// the API's and the web interface's event streams use.
package live

import (
	"context"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// Topic is what a waiter waits for: a job's log (Log) or any build or
// job changing state (Builds).
type Topic struct {
	kind byte
	id   int64
}

// Log is the topic of one job's log (its end too: a job finishing rings it).
func Log(jobID int64) Topic { return Topic{'l', jobID} }

// Builds is the topic of every build's and job's state.
var Builds = Topic{'b', 0}

// Hub wakes the waiters of a topic. The zero value is ready; a nil *Hub
// never wakes anyone (waiters then rely on their poll).
type Hub struct {
	mu    sync.Mutex
	waits map[Topic]chan struct{}
}

// Wait is a channel closed at the topic's next Notify. Take it before
// reading the state it guards, so a change in between is not missed.
func (h *Hub) Wait(t Topic) <-chan struct{} {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waits == nil {
		h.waits = map[Topic]chan struct{}{}
	}
	c, ok := h.waits[t]
	if !ok {
		c = make(chan struct{})
		h.waits[t] = c
	}
	return c
}

// Notify wakes everyone waiting on the topics.
func (h *Hub) Notify(topics ...Topic) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		if c, ok := h.waits[t]; ok {
			close(c)
			delete(h.waits, t)
		}
	}
}

// Notifying wraps a store so that appends to a log ring Log(job) and
// state changes ring Builds (and the Log topics of the jobs they end).
// Only this process's writes ring: other servers sharing a PostgreSQL
// store are seen by the waiters' poll.
func Notifying(st store.Store, h *Hub) store.Store { return &notifying{Store: st, h: h} }

type notifying struct {
	store.Store
	h *Hub
}

func (n *notifying) AppendLog(ctx context.Context, jobID, offset int64, data []byte) (int64, error) {
	end, err := n.Store.AppendLog(ctx, jobID, offset, data)
	if err == nil {
		n.h.Notify(Log(jobID))
	}
	return end, err
}

func (n *notifying) CreateBuild(ctx context.Context, b store.Build, jobs []store.Job) (store.Build, []store.Job, error) {
	b, jobs, err := n.Store.CreateBuild(ctx, b, jobs)
	n.h.Notify(Builds)
	return b, jobs, err
}

func (n *notifying) Claim(ctx context.Context, runnerID int64, tags []string, runUntagged bool, lease time.Duration) (store.Claimed, error) {
	c, err := n.Store.Claim(ctx, runnerID, tags, runUntagged, lease)
	if err == nil {
		n.h.Notify(Builds)
	}
	return c, err
}

func (n *notifying) Finish(ctx context.Context, jobID, runnerID int64, r store.Result) error {
	err := n.Store.Finish(ctx, jobID, runnerID, r)
	n.h.Notify(Builds, Log(jobID))
	return err
}

func (n *notifying) CancelBuild(ctx context.Context, buildID int64) error {
	err := n.Store.CancelBuild(ctx, buildID)
	topics := []Topic{Builds}
	if jobs, jerr := n.Store.Jobs(ctx, buildID); jerr == nil {
		for _, j := range jobs {
			topics = append(topics, Log(j.ID))
		}
	}
	n.h.Notify(topics...)
	return err
}

func (n *notifying) ExpireLeases(ctx context.Context, now time.Time) ([]store.Job, error) {
	jobs, err := n.Store.ExpireLeases(ctx, now)
	if len(jobs) > 0 {
		topics := []Topic{Builds}
		for _, j := range jobs {
			topics = append(topics, Log(j.ID))
		}
		n.h.Notify(topics...)
	}
	return jobs, err
}

func (n *notifying) Play(ctx context.Context, jobID int64) (store.Job, error) {
	j, err := n.Store.Play(ctx, jobID)
	n.h.Notify(Builds)
	return j, err
}
