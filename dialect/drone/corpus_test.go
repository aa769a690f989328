package drone_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

var updateCorpus = os.Getenv("UPDATE_CORPUS") != ""

// corpusRefusals are the corpus files slipway refuses, and why: what
// Drone refuses too (pipelines only a vm or exec runner runs, invalid
// YAML), and what a safety rule of slipway's that the README states
// refuses even in a trusted run (the Docker socket, the host's /dev).
var corpusRefusals = map[string]string{
	"harness__drone-cli.drone.yml":         `no pipeline slipway can run: type "vm"`,
	"photoprism__photoprism.drone.yml":     "invalid YAML: mapping values are not allowed in this context",
	"1898andCo__HAOS.drone.yml":            "mounting /var/run/docker.sock (a control socket",
	"cnrancher__autok3s.drone.yml":         "mounting /var/run/docker.sock (a control socket",
	"harvester__harvester.drone.yml":       "mounting /var/run/docker.sock (a control socket",
	"longhorn__longhorn-manager.drone.yml": "mounting /var/run/docker.sock (a control socket",
	"rancher__rke2.drone.yml":              "mounting /var/run/docker.sock (a control socket",
	"siderolabs__talos.drone.yml":          "mounting /dev (a host system directory)",
	// Not decided: a Drone 0.4 plugin step with no image (Drone 0.4 took
	// the step's name for a plugin's); 0.8 refused it as slipway does.
	"drone-plugins__drone-docker.drone.yml": `step "docker" has no image`,
}

// corpusDir is ../shared/corpus/drone beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "drone")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the corpus is missing: %v", err)
		}
		t.Skipf("the corpus is missing (%v); CI fails here", err)
	}
	return dir
}

// mainBranch finds main as a branch name: refs/heads/main, or a YAML
// value or list item main.
var mainBranch = regexp.MustCompile(`(?m)(refs/heads/main\b|[-:\[,]\s*["']?main["']?\s*(\]|,|$))`)

// corpusContext is a push of the default branch of the file's project:
// main when the file names that branch more often than master.
func corpusContext(name string, data []byte) drone.Context {
	branch := "master"
	if len(mainBranch.FindAll(data, -1)) > bytes.Count(data, []byte("master")) {
		branch = "main"
	}
	repo := strings.Replace(strings.TrimSuffix(name, ".drone.yml"), "__", "/", 1)
	return drone.Context{
		Branch: branch, Event: "push", Repo: repo, Commit: "0123456789abcdef0123456789abcdef01234567",
		Message: "a commit", Author: "octocat", BuildNumber: 1, OS: "linux", Arch: "amd64",
	}
}

// lintCorpusFile is what slipway lint --trusted prints for the file: the
// plan (or the refusal) and the warnings.
func lintCorpusFile(t *testing.T, path string) (out string, refused error) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	var b strings.Builder
	p, warns, err := drone.Parse(name, data, corpusContext(name, data))
	if err == nil {
		var pl *plan.Plan
		var more []*pipeline.Warning
		pl, more, err = plan.Prepare(p, config.Runner{}, plan.Options{Trusted: true, Lint: true})
		warns = append(warns, more...)
		if err == nil {
			pl.Print(&b)
		}
	}
	if err != nil {
		b.WriteString("refused:\n" + err.Error() + "\n")
	}
	for _, w := range warns {
		b.WriteString("warning: " + w.Error() + "\n")
	}
	return b.String(), err
}

// TestCorpus: every real .drone.yml of the corpus is planned, or refused
// for a reason in corpusRefusals; the plan is compared with
// testdata/corpus/NAME.txt (UPDATE_CORPUS=1 rewrites them: read the diff).
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "*.drone.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".drone.yml"), func(t *testing.T) {
			out, refused := lintCorpusFile(t, f)
			want, refuse := corpusRefusals[name]
			switch {
			case refuse && (refused == nil || !strings.Contains(refused.Error(), want)):
				t.Errorf("want a refusal containing %q, got:\n%s", want, out)
			case !refuse && refused != nil:
				t.Errorf("refused:\n%s", out)
			}
			compareGolden(t, filepath.Join("testdata", "corpus", strings.TrimSuffix(name, ".drone.yml")+".txt"), out)
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateCorpus {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_CORPUS=1 go test writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (UPDATE_CORPUS=1 go test rewrites it; read the diff):\n%s", path, got)
	}
}

// TestCorpusHandChecked: the plans ../shared/corpus/README.md checked by
// hand against Drone, for a push to the default branch on an amd64
// engine (pipelines for arm are skipped here; a Drone arm runner would
// take them).
func TestCorpusHandChecked(t *testing.T) {
	dir := corpusDir(t)
	cases := map[string][]string{
		"appleboy__gorush.drone.yml": {
			"stage stage-1\n  job testing ", "stage stage-2\n  job linux-amd64 ", "stage stage-3\n  job notifications ",
			`pipeline "linux-arm64" is skipped: platform.arch "arm64" is not the engine's "amd64"`,
			`pipeline "linux-arm" is skipped: platform.arch "arm" is not the engine's "amd64"`,
		},
		// 8 of 9 pipelines on Drone: release-version is for tags; the
		// eighth is docker-linux-arm64.
		"go-gitea__gitea.drone.yml": {
			"  job testing ", "  job translations ", "  job docs ", "  job release-master ",
			"  job docker-linux-amd64 ", "  job docker-manifest ", "  job notify ",
			`pipeline "release-version" is skipped: trigger.event does not match event "push"`,
			`pipeline "docker-linux-arm64" is skipped: platform.arch "arm64" is not the engine's "amd64"`,
			`step "tag-test" is skipped`, `step "release-branch-release" is skipped`,
		},
	}
	for name, want := range cases {
		out, err := lintCorpusFile(t, filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the plan lacks %q:\n%s", name, w, out)
			}
		}
	}
	if n := strings.Count(mustLint(t, filepath.Join(dir, "go-gitea__gitea.drone.yml")), "\n  job "); n != 7 {
		t.Errorf("gitea: %d jobs, want 7", n)
	}
}

func mustLint(t *testing.T, path string) string {
	out, err := lintCorpusFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
