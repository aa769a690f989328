package gitlab

import (
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

// RunnerService is one service of a runner configuration
// ([runners.docker] services).
type RunnerService struct {
	Name       string
	Alias      string
	Entrypoint []string
	Command    []string
}

// AddRunnerServices adds a runner configuration's services to every job of
// a GitLab pipeline, after the file's own, as gitlab-runner does: named and
// given host names by the rules of the file's services, with the job's
// variables. file names the configuration in messages. The dialect itself
// never sees a runner configuration; the planner calls this.
func AddRunnerServices(pl *pipeline.Pipeline, specs []RunnerService, file string) ([]*pipeline.Warning, error) {
	p := &parser{file: file}
	svcs := p.decodeRunnerServices(specs, pipeline.Pos{File: file})
	if len(p.errs) > 0 {
		return nil, p.errs[0]
	}
	for _, j := range pl.Jobs() {
		set := newServiceSet(j.Services)
		n := len(j.Services)
		for i, s := range svcs {
			j.Services = append(j.Services, set.add(p, s, n+i, slices.Clone(j.Variables)))
		}
	}
	return yamlutil.Tidy(p.warns, yamlutil.MaxWarnings, "warnings"), nil
}

// decodeRunnerServices reads the configuration's services into the
// dialect's own form.
func (p *parser) decodeRunnerServices(specs []RunnerService, pos pipeline.Pos) []*service {
	var out []*service
	for _, rs := range specs {
		img := pipeline.Image{Name: rs.Name, Pos: pos}
		ref, err := p.parseImage(rs.Name)
		if err != nil {
			p.errs = append(p.errs, pipeline.Errorf(pos, "[runners.docker] services: %v", err))
			continue
		}
		img.Ref = ref.String()
		s := &service{img: img, pos: pos, entrypoint: rs.Entrypoint, command: rs.Command}
		if rs.Alias != "" {
			s.user = strings.FieldsFunc(rs.Alias, func(r rune) bool { return r == ',' || r == ' ' })
		}
		s.aliases = append(p.defaultAliases(s.img), s.user...)
		out = append(out, s)
	}
	return out
}
