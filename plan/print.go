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
	keeps := map[string]bool{}
	for _, j := range p.Jobs() {
		keeps[j.Name] = j.Artifacts != nil
	}
	for _, st := range p.Stages {
		fmt.Fprintf(w, "stage %s\n", st.Name)
		for _, j := range st.Jobs {
			printJob(w, j)
			printArtifacts(w, j, keeps)
			printCaches(w, j)
		}
	}
}

// printArtifacts shows what the job keeps and the jobs whose artifacts
// it gets (of those it may get them from, the ones that keep any).
func printArtifacts(w io.Writer, j *Job, keeps map[string]bool) {
	if a := j.Artifacts; a != nil {
		what := strings.Join(a.Paths, " ")
		if a.Untracked {
			what = strings.TrimSpace(what + " (untracked files)")
		}
		if len(a.Exclude) > 0 {
			what += ", except " + strings.Join(a.Exclude, " ")
		}
		fmt.Fprintf(w, "    artifacts (%s): %s\n", cmp.Or(string(a.When), "on_success"), what)
	}
	var from []string
	for _, n := range j.ArtifactsFrom {
		if keeps[n] {
			from = append(from, n)
		}
	}
	if len(from) > 0 {
		fmt.Fprintf(w, "    gets the artifacts of %s\n", strings.Join(from, ", "))
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
		m = append(m, "needs: "+cmp.Or(strings.Join(j.Needs, ", "), "none: starts at once"))
	}
	if len(m) == 0 {
		return ""
	}
	return " [" + strings.Join(m, "; ") + "]"
}
