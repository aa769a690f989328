package plan

import (
	"fmt"
	"io"
	"strings"
)

// Print shows stages, jobs, images, services and commands. It prints no
// variable values: they may hold credentials.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "%s (%s)\n", p.File, p.Dialect)
	for _, st := range p.Stages {
		fmt.Fprintf(w, "stage %s\n", st.Name)
		for _, j := range st.Jobs {
			printJob(w, j)
		}
	}
}

func printJob(w io.Writer, j *Job) {
	fmt.Fprintf(w, "  job %s (workspace %s)\n", j.Name, j.Workspace)
	for _, svc := range j.Services {
		fmt.Fprintf(w, "    service %s: %s (aliases: %s)\n", svc.Name, svc.Image.Ref, strings.Join(svc.Aliases, ", "))
	}
	for _, st := range j.Steps {
		when := ""
		if st.Always {
			when = " (always)"
		}
		fmt.Fprintf(w, "    step %s%s: %s\n", st.Name, when, st.Image.Ref)
		for _, c := range st.Commands {
			fmt.Fprintf(w, "      %s\n", c)
		}
	}
}
