package gitlab

import (
	"fmt"
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
// a GitLab pipeline, before the file's own, as gitlab-runner lists them:
// named and given host names by the rules of the file's services, with
// the job's variables. Their host names are theirs first: a service of
// the file loses a host name a configured service has, with a warning.
// file names the configuration in messages. The dialect itself never sees
// a runner configuration; the planner calls this.
func AddRunnerServices(pl *pipeline.Pipeline, specs []RunnerService, file string) ([]*pipeline.Warning, error) {
	p := &parser{file: file}
	svcs := p.decodeRunnerServices(specs, pipeline.Pos{File: file})
	if len(p.errs) > 0 {
		return nil, p.errs[0]
	}
	if len(svcs) == 0 {
		return nil, nil
	}
	for _, j := range pl.Jobs() {
		set := newServiceSet(nil)
		for _, svc := range j.Services {
			set.names[svc.Name] = true // the file's services keep their names
		}
		var runner []*pipeline.Service
		for i, s := range svcs {
			runner = append(runner, set.add(p, s, i, slices.Clone(j.Variables)))
		}
		for _, svc := range j.Services {
			p.yieldHostNames(set, j.Name, svc)
		}
		j.Services = append(runner, j.Services...)
	}
	return yamlutil.Tidy(p.warns, yamlutil.MaxWarnings, "warnings"), nil
}

// yieldHostNames drops from a file's service the host names configured
// services took, saying which.
func (p *parser) yieldHostNames(set *serviceSet, job string, svc *pipeline.Service) {
	var kept, lost []string
	for _, a := range svc.Aliases {
		if o, taken := set.owner[a]; taken {
			lost = append(lost, fmt.Sprintf("%q (service %s)", a, o))
			continue
		}
		set.owner[a] = svc.Name
		kept = append(kept, a)
	}
	if len(lost) > 0 {
		p.warnf2(svc.Pos, "job %s: services: service %s loses the host names the configuration's services have: %s", job, svc.Name, strings.Join(lost, ", "))
	}
	svc.Aliases = kept
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
