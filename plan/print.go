package plan

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// Print shows stages, jobs, images, services and commands. It prints no
// variable values: they may hold credentials.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "%s (%s)\n", p.File, p.Dialect)
	if len(p.MissingSecrets) > 0 {
		fmt.Fprintf(w, "secrets not given (placeholders here; exec needs them): %s\n", strings.Join(p.MissingSecrets, ", "))
	}
	for _, st := range p.Stages {
		fmt.Fprintf(w, "stage %s\n", st.Name)
		for _, j := range st.Jobs {
			printJob(w, j)
		}
	}
}

func printJob(w io.Writer, j *Job) {
	ws := j.Workspace
	if j.WorkspaceBase != "" {
		ws += ", volume at " + j.WorkspaceBase
	}
	if j.NoCheckout {
		ws += ", no checkout"
	}
	fmt.Fprintf(w, "  job %s (workspace %s)%s\n", j.Name, ws, marks(j))
	for _, svc := range j.Services {
		fmt.Fprintf(w, "    service %s: %s (aliases: %s)\n", svc.Name, svc.Image.Ref, strings.Join(svc.Aliases, ", "))
		for _, c := range svc.Commands {
			fmt.Fprintf(w, "      %s\n", c)
		}
	}
	for _, st := range j.Steps {
		when := ""
		if st.Always {
			when = " (always)"
		}
		if st.Detach {
			when = " (detached)"
		}
		fmt.Fprintf(w, "    step %s%s: %s\n", st.Name, when, cmp.Or(st.Image.Ref, st.Image.Name, "(no image)"))
		for _, c := range st.Commands {
			fmt.Fprintf(w, "      %s\n", c)
		}
	}
}

// marks says when a job runs, if not simply after the stages before it
// pass, and whether its failure is tolerated.
func marks(j *Job) string {
	var m []string
	switch j.When {
	case pipeline.OnSuccess:
	case pipeline.Manual:
		m = append(m, "manual: runs only when named")
	default:
		m = append(m, "when: "+string(j.When))
	}
	if j.AllowFailure {
		m = append(m, "allow_failure")
	}
	if j.DAG {
		m = append(m, "needs: "+cmp.Or(strings.Join(j.Needs, ", "), "none"))
	}
	if len(m) == 0 {
		return ""
	}
	return " [" + strings.Join(m, "; ") + "]"
}
