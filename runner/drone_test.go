package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

func TestDroneScriptHasNoPipefail(t *testing.T) {
	st := &pipeline.Step{Shell: pipeline.ShellDrone, Commands: []string{"yes | head -n 1", "false | true", "echo after"}}
	out, code := runScript(t, "bash", st)
	if out != "+ yes | head -n 1\ny\n+ false | true\n+ echo after\nafter\n" || code != 0 {
		t.Errorf("code %d output %q", code, out)
	}
}

// droneJob is a Drone pipeline's job: steps with commands, exit code 78
// ending it early.
func droneJob(steps ...*pipeline.Step) *pipeline.Job {
	j := gitlabJob("default")
	j.Network, j.Workspace, j.ExitEarly, j.Steps = pipeline.NetworkSharedLocalhost, "/drone/src", 78, steps
	return j
}

func droneStep(name string, commands ...string) *pipeline.Step {
	return &pipeline.Step{Container: pipeline.Container{Name: name, Image: img("busybox:1.35")}, Commands: commands, Shell: pipeline.ShellDrone}
}

func TestExitCode78EndsTheJobSuccessfully(t *testing.T) {
	f := newFake()
	f.exit["exit 78"] = 78
	r, out := newTestRunner(f)
	j := droneJob(droneStep("a", "exit 78"), droneStep("b", "true"))
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Passed || f.has("run j0-0 step-1") {
		t.Errorf("status %s calls %v", res.Jobs[0].Status, f.calls)
	}
	if !strings.Contains(out.String(), `step a exited with code 78: the job ends here, successfully`) {
		t.Errorf("output %q", out.String())
	}
	// Without ExitEarly (GitLab), 78 is a failure like any other.
	f = newFake()
	f.exit["exit 78"] = 78
	r, _ = newTestRunner(f)
	j = droneJob(droneStep("a", "exit 78"))
	j.ExitEarly = 0
	if res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}})); res.Jobs[0].Status != Failed {
		t.Errorf("status %s", res.Jobs[0].Status)
	}
}

// TestDetachedStepStartsInTheBackground: it is started like a service,
// answers by name in a shared namespace, and the job goes on.
func TestDetachedStepStartsInTheBackground(t *testing.T) {
	f := newFake()
	r, _ := newTestRunner(f)
	server := droneStep("server", "httpd -f")
	server.Detach = true
	j := droneJob(server, droneStep("client", "wget server"))
	res := r.Run(context.Background(), pipelineOf(pipeline.Stage{Name: "s", Jobs: []*pipeline.Job{j}}))
	if res.Jobs[0].Status != Passed || !f.has("service j0-0 step-0") || !f.has("run j0-0 step-1") || f.has("run j0-0 step-0") {
		t.Errorf("status %s calls %v", res.Jobs[0].Status, f.calls)
	}
	s := (&run{Runner: &Runner{}}).spec("k", &plan.Job{Job: j})
	if s.Network != engine.NetworkShared || strings.Join(s.Aliases, ",") != "server" {
		t.Errorf("network %v aliases %v", s.Network, s.Aliases)
	}
	ep, cmd, stdin := command(server)
	if strings.Join(ep, " ") != "/bin/sh -c" || len(cmd) != 1 || !strings.Contains(cmd[0], "httpd -f") || stdin != nil {
		t.Errorf("%v %q %q", ep, cmd, stdin)
	}
}

func TestServiceCommandsRunInTheWorkspace(t *testing.T) {
	r := &run{}
	svc := &pipeline.Service{Container: pipeline.Container{Name: "db", Image: img("redis:7.0")}, Commands: []string{"redis-server --port 7000"}}
	c, err := r.serviceContainer(svc, "/drone/src")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Entrypoint, " ") != "/bin/sh -c" || len(c.Cmd) != 1 || !strings.Contains(c.Cmd[0], "redis-server --port 7000") || c.WorkingDir != "/drone/src" {
		t.Errorf("%+v", c)
	}
}

func TestWorkspaceBaseAndNoCheckout(t *testing.T) {
	j := droneJob(droneStep("a", "true"))
	j.Workspace, j.WorkspaceBase = "/go/src/example.com/app", "/go"
	r := &run{Runner: &Runner{}, workspace: "/home/me/app"}
	s := r.spec("k", &plan.Job{Job: j})
	if s.WorkspacePath != "/go" || s.WorkspaceSub != "src/example.com/app" || s.WorkspaceDir != "/home/me/app" {
		t.Errorf("%+v", s)
	}
	j.NoCheckout = true
	if s := r.spec("k", &plan.Job{Job: j}); s.WorkspaceDir != "" {
		t.Errorf("clone: disable still copies %s", s.WorkspaceDir)
	}
}
