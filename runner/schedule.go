package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// node is one job of the run's graph.
type node struct {
	j   *plan.Job
	key string
	// preds are the nodes the job waits for: its needs (GitLab needs:),
	// else every job of the stages before its own.
	preds []int
	res   JobResult
	// failed: the job, or something it waited for, failed or was
	// cancelled. It is passed on, so a job after a skipped one still
	// knows (GitLab's on_failure jobs of a stage after the next).
	failed bool
	// culprit names the job that failed first upstream, for the reason.
	culprit string
}

// graph makes the run's nodes in plan order. A need on a job that is not
// in the plan (left out by naming jobs on the command line) is no wait.
func (r *run) graph() []*node {
	var nodes []*node
	index := map[string]int{}
	var earlier []int // every node of the stages before the current one
	for si, st := range r.plan.Stages {
		var stage []int
		for i, j := range st.Jobs {
			nd := &node{j: j, key: fmt.Sprintf("j%d-%d", si, i)}
			if j.DAG {
				for _, n := range j.Needs {
					if k, ok := index[n]; ok {
						nd.preds = append(nd.preds, k)
					}
				}
			} else {
				nd.preds = earlier
			}
			index[j.Name] = len(nodes)
			stage = append(stage, len(nodes))
			nodes = append(nodes, nd)
		}
		earlier = append(earlier[:len(earlier):len(earlier)], stage...)
	}
	return nodes
}

// scheduler is the state of one run's graph.
type scheduler struct {
	r          *run
	nodes      []*node
	done       []bool
	queued     []bool
	queue      []int // ready jobs, in the order they became ready
	running    int
	left       int
	limit      int
	concurrent bool
	finished   chan int
}

// schedule runs the plan's jobs as a graph: a job starts once every job
// it waits for has finished, at most Concurrency at a time, those ready
// first first (plan order among those ready together, so with one at a
// time and no needs the order is the file's). Results come back in plan
// order.
func (r *run) schedule(ctx context.Context) []JobResult {
	nodes := r.graph()
	limit := max(r.Concurrency, 1)
	s := &scheduler{r: r, nodes: nodes, done: make([]bool, len(nodes)), queued: make([]bool, len(nodes)),
		left: len(nodes), limit: limit, concurrent: limit > 1 && len(nodes) > 1, finished: make(chan int)}
	for {
		s.startReady(ctx)
		if s.left == 0 {
			break
		}
		i := <-s.finished
		s.running--
		s.finish(i)
	}
	out := make([]JobResult, len(nodes))
	for i, nd := range nodes {
		out[i] = nd.res
	}
	return out
}

// startReady starts the ready jobs there are slots for, and settles those
// that must not run, until nothing more can happen without a job ending.
func (s *scheduler) startReady(ctx context.Context) {
	for progress := true; progress; {
		progress = false
		s.enqueueReady()
		waiting := s.queue[:0]
		for _, i := range s.queue {
			nd := s.nodes[i]
			switch {
			case s.r.decide(ctx, nd, s.nodes):
				s.finish(i)
				progress = true
			case s.running < s.limit:
				s.running++
				go func() {
					nd.res = s.r.runJob(ctx, nd.key, nd.j, s.concurrent)
					s.finished <- i
				}()
			default:
				waiting = append(waiting, i)
			}
		}
		s.queue = waiting
	}
}

func (s *scheduler) enqueueReady() {
	for i, nd := range s.nodes {
		if !s.queued[i] && s.ready(nd) {
			s.queued[i] = true
			s.queue = append(s.queue, i)
		}
	}
}

func (s *scheduler) ready(nd *node) bool {
	for _, p := range nd.preds {
		if !s.done[p] {
			return false
		}
	}
	return true
}

func (s *scheduler) finish(i int) {
	s.done[i] = true
	s.left--
	s.nodes[i].settle()
}

// settle passes the job's own failure on to what waits for it.
func (nd *node) settle() {
	if (nd.res.Status == Failed || nd.res.Status == Canceled) && !nd.failed {
		nd.failed, nd.culprit = true, nd.j.Name
	}
}

// decide settles a job whose waits are over without running it, when it
// must not run: it reports whether it did, with the job's result set.
func (r *run) decide(ctx context.Context, nd *node, nodes []*node) bool {
	for _, p := range nd.preds {
		if nodes[p].failed {
			nd.failed = true
			nd.culprit = nodes[p].culprit
			break
		}
	}
	j := nd.j
	reason := ""
	switch {
	case ctx.Err() != nil && !nd.failed:
		// It was ready to start: it says nothing, costs nothing.
		nd.res = JobResult{Name: j.Name, Status: Canceled, Reason: "canceled before it started"}
		return true
	case ctx.Err() != nil:
		nd.res = JobResult{Name: j.Name, Status: Skipped}
		return true
	case j.When == pipeline.Manual:
		reason = "manual job: run it by naming it (slipway exec " + j.Name + ")"
	case j.When == pipeline.OnFailure && !nd.failed:
		reason = "when: on_failure, and no earlier job failed"
	case !j.When.Runs(nd.failed):
		reason = r.failedReason(nd)
	default:
		return false
	}
	r.say(j.Name, "Skipping job %q: %s", j.Name, reason)
	nd.res = JobResult{Name: j.Name, Status: Skipped, Reason: reason}
	return true
}

// failedReason says why a job is skipped after a failure: which job
// failed, and how the skipped job depends on it.
func (r *run) failedReason(nd *node) string {
	if nd.j.DAG {
		return fmt.Sprintf("it needs %s, and %s failed", strings.Join(nd.j.Needs, ", "), nd.culprit)
	}
	return fmt.Sprintf("job %s of an earlier stage failed", nd.culprit)
}
