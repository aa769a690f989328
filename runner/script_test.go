package runner

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// runScript feeds a step's script to a real shell on stdin, as the
// container's shell gets it.
func runScript(t *testing.T, shell string, st *pipeline.Step) (string, int) {
	t.Helper()
	_, _, stdin := command(st)
	cmd := exec.Command(shell)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestScriptEchoesAndStopsAtFirstFailure(t *testing.T) {
	for _, shell := range []string{"sh", "bash"} {
		st := &pipeline.Step{Shell: pipeline.ShellGitLab, Commands: []string{
			"echo 'it''s' \"$((1+1))\"", "cat", "false", "echo never"}}
		out, code := runScript(t, shell, st)
		want := "$ echo 'it''s' \"$((1+1))\"\nits 2\n$ cat\n$ false\n"
		if out != want || code != 1 {
			t.Errorf("%s: code %d output %q, want %q", shell, code, out, want)
		}
	}
}

func TestDroneScriptEchoesWithPlus(t *testing.T) {
	st := &pipeline.Step{Shell: pipeline.ShellDrone, Commands: []string{"echo a", "exit 3"}}
	out, code := runScript(t, "sh", st)
	if out != "+ echo a\na\n+ exit 3\n" || code != 3 {
		t.Errorf("code %d output %q", code, out)
	}
}

func TestPipefailWhereTheShellHasIt(t *testing.T) {
	st := &pipeline.Step{Shell: pipeline.ShellGitLab, Commands: []string{"false | true", "echo after"}}
	out, code := runScript(t, "bash", st)
	if code == 0 {
		t.Errorf("bash: a failing pipeline did not fail the script: %q", out)
	}
}

func TestPluginStepKeepsImageCommand(t *testing.T) {
	st := &pipeline.Step{Shell: pipeline.ShellDrone, Container: pipeline.Container{Command: []string{"--flag"}}}
	ep, cmd, stdin := command(st)
	if ep != nil || len(cmd) != 1 || stdin != nil {
		t.Errorf("%v %v %q", ep, cmd, stdin)
	}
}

func TestFileVariableHoldsThePathOfItsValue(t *testing.T) {
	for _, shell := range []string{"sh", "bash"} {
		st := &pipeline.Step{Shell: pipeline.ShellGitLab, Container: pipeline.Container{Env: []pipeline.EnvVar{{Name: "DB_PASSWORD", FromSecret: "db", File: true}}},
			Commands: []string{`test -f "$DB_PASSWORD" && stat -c %a "$DB_PASSWORD" && cat "$DB_PASSWORD"; echo`}}
		_, _, stdin := command(st)
		cmd := exec.Command(shell)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + t.TempDir(), "DB_PASSWORD=it's a \"secret\"\nline two"}
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		want := "600\nit's a \"secret\"\nline two\n"
		if err != nil || !bytes.HasSuffix(out, []byte(want)) {
			t.Errorf("%s: %v, output %q, want it to end with %q", shell, err, out, want)
		}
	}
}
