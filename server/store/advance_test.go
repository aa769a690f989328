package store

import (
	"fmt"
	"testing"
)

func TestAdvance(t *testing.T) {
	j := func(name string, st JobStatus, when When, needs ...string) Job {
		return Job{Name: name, Status: st, When: when, Needs: needs}
	}
	for _, tc := range []struct {
		name string
		jobs []Job
		want string // name=status of the changed jobs, in order
	}{
		{"needs not done", []Job{j("a", JobRunning, ""), j("b", JobCreated, "", "a")}, "[]"},
		{"needs met", []Job{j("a", JobSuccess, ""), j("b", JobCreated, "", "a")}, "[b=pending]"},
		{"failure skips through a chain, on_failure and always run",
			[]Job{j("a", JobFailed, ""), j("b", JobCreated, "", "a"), j("c", JobCreated, "", "b"),
				j("d", JobCreated, OnFailure, "c"), j("e", JobCreated, Always, "c")},
			"[b=skipped c=skipped d=pending e=pending]"},
		{"on_failure skipped when all passed; the next stage still runs",
			[]Job{j("a", JobSuccess, ""), j("b", JobCreated, OnFailure, "a"), j("c", JobCreated, "", "a", "b")},
			"[b=skipped c=pending]"},
		{"canceled blocks on_success", []Job{j("a", JobCanceled, ""), j("b", JobCreated, "", "a")}, "[b=skipped]"},
	} {
		var got []string
		for _, c := range Advance(tc.jobs) {
			got = append(got, c.Name+"="+string(c.Status))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: changed %v, want %s", tc.name, got, tc.want)
		}
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		jobs []Job
		want BuildStatus
		done bool
	}{
		{[]Job{{Status: JobSuccess}, {Status: JobRunning}}, "", false},
		{[]Job{{Status: JobSuccess}, {Status: JobSkipped}}, BuildSuccess, true},
		{[]Job{{Status: JobFailed, AllowFailure: true}, {Status: JobSuccess}}, BuildSuccess, true},
		{[]Job{{Status: JobCanceled}, {Status: JobFailed}}, BuildFailed, true},
		{[]Job{{Status: JobCanceled}, {Status: JobSuccess}}, BuildCanceled, true},
	} {
		if got, done := Outcome(tc.jobs); got != tc.want || done != tc.done {
			t.Errorf("Outcome(%v) = %s, %v; want %s, %v", tc.jobs, got, done, tc.want, tc.done)
		}
	}
}

func TestMayRun(t *testing.T) {
	for _, tc := range []struct {
		job, runner []string
		untagged    bool
		want        bool
	}{
		{nil, nil, false, false},
		{nil, []string{"docker"}, true, true},
		{[]string{"docker"}, []string{"docker", "linux"}, false, true},
		{[]string{"docker", "gpu"}, []string{"docker"}, true, false},
	} {
		if got := MayRun(tc.job, tc.runner, tc.untagged); got != tc.want {
			t.Errorf("MayRun(%v, %v, %v) = %v", tc.job, tc.runner, tc.untagged, got)
		}
	}
}
