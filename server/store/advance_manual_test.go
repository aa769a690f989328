package store

import (
	"fmt"
	"testing"
)

func TestAdvanceManual(t *testing.T) {
	j := func(name string, st JobStatus, when When, needs ...string) Job {
		return Job{Name: name, Status: st, When: when, Needs: needs}
	}
	for _, tc := range []struct {
		name string
		jobs []Job
		want string
	}{
		{"a manual job waits to be played once its needs pass",
			[]Job{j("a", JobSuccess, ""), j("deploy", JobCreated, Manual, "a")}, "[deploy=manual]"},
		{"a manual job after a failure is skipped",
			[]Job{j("a", JobFailed, ""), j("deploy", JobCreated, Manual, "a")}, "[deploy=skipped]"},
		{"a manual job holds the jobs that need it",
			[]Job{j("deploy", JobManual, Manual), j("after", JobCreated, "", "deploy")}, "[]"},
		{"a played manual job that passed lets them run",
			[]Job{j("deploy", JobSuccess, Manual), j("after", JobCreated, "", "deploy")}, "[after=pending]"},
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

func TestOutcomeManual(t *testing.T) {
	optional := Job{Name: "deploy", Status: JobManual, AllowFailure: true}
	blocking := Job{Name: "deploy", Status: JobManual}
	after := Job{Name: "after", Status: JobCreated, Needs: []string{"deploy"}}
	for _, tc := range []struct {
		name    string
		jobs    []Job
		want    BuildStatus
		done    bool
		blocked bool
	}{
		{"an optional manual job does not hold the build",
			[]Job{{Name: "a", Status: JobSuccess}, optional}, BuildSuccess, true, false},
		{"nor do the jobs that need it",
			[]Job{{Name: "a", Status: JobSuccess}, optional, after}, BuildSuccess, true, false},
		{"a failure still fails the build",
			[]Job{{Name: "a", Status: JobFailed}, optional}, BuildFailed, true, false},
		{"a blocking manual job blocks it",
			[]Job{{Name: "a", Status: JobSuccess}, blocking, after}, "", false, true},
		{"not while another job runs",
			[]Job{{Name: "a", Status: JobRunning}, blocking}, "", false, false},
		{"a created job not held by a manual one keeps it open",
			[]Job{{Name: "a", Status: JobCreated}, optional}, "", false, false},
		{"a played manual job keeps it open until done",
			[]Job{{Name: "a", Status: JobSuccess}, {Name: "deploy", Status: JobPending, AllowFailure: true}}, "", false, false},
	} {
		got, done := Outcome(tc.jobs)
		if got != tc.want || done != tc.done {
			t.Errorf("%s: Outcome = %s, %v; want %s, %v", tc.name, got, done, tc.want, tc.done)
		}
		if b := Blocked(tc.jobs); b != tc.blocked {
			t.Errorf("%s: Blocked = %v, want %v", tc.name, b, tc.blocked)
		}
	}
}
