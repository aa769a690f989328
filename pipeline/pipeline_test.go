package pipeline

import "testing"

func TestWhenRuns(t *testing.T) {
	for _, tc := range []struct {
		w                  When
		afterOK, afterFail bool
	}{
		{OnSuccess, true, false},
		{OnFailure, false, true},
		{Always, true, true},
		{Manual, false, false},
	} {
		if tc.w.Runs(false) != tc.afterOK || tc.w.Runs(true) != tc.afterFail {
			t.Errorf("%q: Runs(false)=%v Runs(true)=%v", tc.w, tc.w.Runs(false), tc.w.Runs(true))
		}
	}
}

func TestSelectStartsANamedManualJob(t *testing.T) {
	deploy := &Job{Name: "deploy", When: Manual}
	other := &Job{Name: "other", When: Manual}
	p := &Pipeline{File: "f.yml", Stages: []Stage{{Name: "s", Jobs: []*Job{deploy, other}}}}
	if err := p.Select([]string{"deploy"}); err != nil {
		t.Fatal(err)
	}
	if len(p.Jobs()) != 1 || deploy.When != OnSuccess || other.When != Manual {
		t.Errorf("jobs %v, deploy %q, other %q", p.Jobs(), deploy.When, other.When)
	}
	if err := p.Select([]string{"nope"}); err == nil {
		t.Error("unknown job accepted")
	}
}

func TestParseDevice(t *testing.T) {
	for spec, want := range map[string]*Volume{
		"/dev/fuse":                 {Source: "/dev/fuse", Target: "/dev/fuse"},
		"/dev/sda:/dev/xvda":        {Source: "/dev/sda", Target: "/dev/xvda"},
		"/dev/sda:/dev/xvda:r":      {Source: "/dev/sda", Target: "/dev/xvda", ReadOnly: true},
		"/dev/sda:/dev/xvda:rwm":    {Source: "/dev/sda", Target: "/dev/xvda"},
		"dev/sda":                   nil,
		"/dev/sda:xvda":             nil,
		"/dev/sda:/dev/xvda:x":      nil,
		"/dev/sda:/dev/xvda:r:more": nil,
	} {
		got, ok := ParseDevice(spec)
		if ok != (want != nil) || ok && got != *want {
			t.Errorf("ParseDevice(%q) = %+v, %v", spec, got, ok)
		}
	}
}
