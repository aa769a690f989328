package gitlab

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
)

func TestReports(t *testing.T) {
	in := `
a:
  script: x
  artifacts:
    expire_in: 2 weeks 1 day
    reports:
      junit: [report.xml, "junit/*.xml"]
      dotenv: build.env
      coverage_report: {coverage_format: cobertura, path: cov/cobertura.xml}
b:
  script: x
  artifacts: {expire_in: never, reports: }
`
	pl := mustParse(t, in, Options{})
	a := pl.Jobs()[0].Artifacts
	want := []pipeline.Report{
		{Type: "coverage_report", Paths: []string{"cov/cobertura.xml"}},
		{Type: "dotenv", Paths: []string{"build.env"}},
		{Type: "junit", Paths: []string{"report.xml", "junit/*.xml"}},
	}
	if !reflect.DeepEqual(a.Reports, want) || a.Expire != 15*24*time.Hour || a.ExpireIn != "2 weeks 1 day" {
		t.Errorf("artifacts %+v", a)
	}
	if b := pl.Jobs()[1].Artifacts; b.Expire != 0 || b.Reports != nil {
		t.Errorf("artifacts %+v", b)
	}
	_, _, err := Parse("ci.yml", []byte(`
a:
  script: x
  artifacts:
    expire_in: soon
    reports: {coverage_report: {coverage_format: lcov}}
`), Options{})
	for _, w := range []string{
		`ci.yml:5:16: artifacts: expire_in: invalid duration "soon"`,
		`ci.yml:6:50: artifacts: reports: coverage_report: coverage_format: expected cobertura or jacoco, got "lcov"`,
		`ci.yml:6:32: artifacts: reports: coverage_report: path is required`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}
