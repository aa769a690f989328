package gitlab

import (
	"sort"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
	"go.yaml.in/yaml/v3"
)

// reportTypes are the artifacts: reports: GitLab knows. A local run
// shows none of them; it keeps their files with the artifacts.
var reportTypes = keySet(`accessibility annotations api_fuzzing browser_performance
	coverage_fuzzing codequality container_scanning coverage_report cyclonedx dast
	dependency_scanning dotenv junit license_scanning load_performance metrics
	performance requirements repository_xray sast secret_detection terraform`)

// reports reads artifacts: reports:, each type a glob or a list of them;
// coverage_report is {coverage_format, path}.
func (p *parser) reports(n *yaml.Node) []pipeline.Report {
	if v := p.value(n); v == nil || v.ShortTag() == "!!null" {
		return nil // reports: with nothing under it, which GitLab accepts
	}
	entries, ok := p.mapping("artifacts: reports", n)
	if !ok {
		return nil
	}
	var out []pipeline.Report
	for _, e := range entries {
		k := e.Key.Value
		if !reportTypes[k] {
			p.warnf(e.Key, "unknown report type %s in artifacts: reports:", k)
			continue
		}
		var paths []string
		if k == "coverage_report" {
			paths = p.coverageReport(e.Value)
		} else {
			paths, _ = p.stringOrList("artifacts: reports: "+k, e.Value)
		}
		if len(paths) > 0 {
			out = append(out, pipeline.Report{Type: k, Paths: paths})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// coverageReport reads {coverage_format: cobertura|jacoco, path: glob}.
func (p *parser) coverageReport(n *yaml.Node) []string {
	entries, ok := p.mapping("artifacts: reports: coverage_report", n)
	if !ok {
		return nil
	}
	var path string
	for _, e := range entries {
		switch k := e.Key.Value; k {
		case "path":
			path, _ = p.str("artifacts: reports: coverage_report: path", e.Value)
		case "coverage_format":
			f, _ := p.str("artifacts: reports: coverage_report: coverage_format", e.Value)
			if f != "cobertura" && f != "jacoco" && f != "" {
				p.errorf(e.Value, "artifacts: reports: coverage_report: coverage_format: expected cobertura or jacoco, got %q", f)
			}
		default:
			p.warnf(e.Key, "unknown key %s in coverage_report:", k)
		}
	}
	if path == "" {
		p.errorf(n, "artifacts: reports: coverage_report: path is required")
		return nil
	}
	return []string{path}
}

// expireIn reads artifacts: expire_in: a duration as GitLab reads it
// ("1 week", "30 mins", "2h"), or never (kept for ever, zero).
func (p *parser) expireIn(n *yaml.Node) (string, time.Duration) {
	v := p.value(n)
	if v == nil {
		return "", 0
	}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "artifacts: expire_in: expected a duration such as \"1 week\" or never, got %s", yamlutil.Describe(v))
		return "", 0
	}
	s := v.Value
	if strings.EqualFold(strings.TrimSpace(s), "never") {
		return s, 0
	}
	d, err := parseDuration(s)
	if err != nil {
		p.errorf(v, "artifacts: expire_in: %v", err)
		return s, 0
	}
	return s, d
}
