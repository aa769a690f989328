package pipeline

import (
	"fmt"
	"strings"
)

// Select keeps only the named jobs (and the stages holding them). An
// unknown name is an error that lists the jobs there are.
func (p *Pipeline) Select(names []string) error {
	if len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var stages []Stage
	for _, s := range p.Stages {
		var jobs []*Job
		for _, j := range s.Jobs {
			if want[j.Name] {
				if j.When == Manual {
					// Naming a manual job is how it is started.
					j.When = OnSuccess
				}
				jobs = append(jobs, j)
				delete(want, j.Name)
			}
		}
		if len(jobs) > 0 {
			stages = append(stages, Stage{Name: s.Name, Jobs: jobs})
		}
	}
	if len(want) > 0 {
		var missing, have []string
		for n := range want {
			missing = append(missing, n)
		}
		for _, j := range p.Jobs() {
			have = append(have, j.Name)
		}
		return fmt.Errorf("%s: no job named %s (jobs: %s)", p.File, strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	p.Stages = stages
	return nil
}
