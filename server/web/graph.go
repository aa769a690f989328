package web

import (
	"fmt"
	"slices"

	"github.com/slipway-ci/slipway/server/store"
)

// The build page draws its jobs as a graph: a column per stage (or, when
// the jobs have no stages, per depth of depends_on), a box per job
// linking to its log, and a curve from each job it needs. It is an SVG
// laid out here, so it needs no script and no library.
const (
	boxW, boxH = 176, 34
	colGap     = 56
	rowGap     = 12
	pad        = 4
)

type graphNode struct {
	Job  store.Job
	X, Y int
	Href string
}

type graph struct {
	W, H  int
	Nodes []graphNode
	Edges []string // SVG path data
}

func layout(jobs []store.Job, repoPath string) graph {
	cols := columns(jobs)
	var g graph
	rows := map[int]int{}
	at := map[string]graphNode{}
	for i, j := range jobs {
		c := cols[i]
		n := graphNode{Job: j, X: pad + c*(boxW+colGap), Y: pad + rows[c]*(boxH+rowGap),
			Href: fmt.Sprintf("%s/-/jobs/%d/log", repoPath, j.ID)}
		rows[c]++
		g.Nodes = append(g.Nodes, n)
		at[j.Name] = n
		g.W = max(g.W, n.X+boxW+pad)
		g.H = max(g.H, n.Y+boxH+pad)
	}
	for _, n := range g.Nodes {
		for _, need := range n.Job.Needs {
			from, ok := at[need]
			if !ok {
				continue
			}
			x1, y1 := from.X+boxW, from.Y+boxH/2
			x2, y2 := n.X, n.Y+boxH/2
			mid := (x1 + x2) / 2
			g.Edges = append(g.Edges, fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2))
		}
	}
	return g
}

// columns places each job: by stage when the jobs have more than one,
// else by how long the chain of jobs it needs is.
func columns(jobs []store.Job) []int {
	var stages []string
	for _, j := range jobs {
		if !slices.Contains(stages, j.Stage) {
			stages = append(stages, j.Stage)
		}
	}
	cols := make([]int, len(jobs))
	if len(stages) > 1 {
		for i, j := range jobs {
			cols[i] = slices.Index(stages, j.Stage)
		}
		return cols
	}
	depth := map[string]int{}
	// Needs point to jobs of the same build, which the store checked
	// form no cycle; len(jobs) rounds settle every depth.
	for range jobs {
		for i, j := range jobs {
			d := 0
			for _, n := range j.Needs {
				d = max(d, depth[n]+1)
			}
			depth[j.Name], cols[i] = d, d
		}
	}
	return cols
}
