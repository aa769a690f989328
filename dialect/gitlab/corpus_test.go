package gitlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

// The corpus (../shared/corpus beside the repository, see its README) is
// real projects' files. For each, the plan for a push to its default
// branch is kept in testdata/corpus/<name>.txt (go test -update rewrites
// them); the cases checked by hand against GitLab's rules are asserted
// below as well.

// corpusDir is $REPO/../shared/corpus; the repository is two levels up.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gitlab")); err != nil {
		// CI lays shared/ beside the clone; without it this test proves
		// nothing, so it fails rather than passing quietly.
		t.Fatalf("the corpus is missing: %v (expected the repository's ../shared/corpus)", err)
	}
	return dir
}

// corpusMain lists the projects whose default branch was main when their
// file was taken; the others' was master.
var corpusMain = map[string]bool{
	"0FL01/Oxide-Agent": true, "gromacs/gromacs": true, "ntpsec/ntpsec": true,
	"wine-mirror/wine": true, "xiph/opus": true,
}

// corpusRefused are the files GitLab would refuse too, as they are in the
// corpus, and why.
var corpusRefused = map[string]string{
	"0-complexity__openvcloud_installer": "job make release logs: script is required",
	"0LNetworkCommunity__explorer":       `job build: stage "build" is not defined in stages`,
	// Their jobs are in included files, which the corpus does not hold;
	// GitLab refuses a missing local include the same way.
	"DataDog__dd-trace-go":    "include: local file .gitlab/benchmarks.yml does not exist",
	"Kitware__CMake":          "include: local file .gitlab/rules.yml does not exist",
	"LLNL__RAJA":              "include: local file .gitlab/custom-variables.yml does not exist",
	"bram2w__baserow":         "include: local file .gitlab/ci_includes/jobs.yml does not exist",
	"gitlabhq__gitlab-runner": "include: local file .gitlab/ci/_project_fork.gitlab-ci.yml does not exist",
	"gromacs__gromacs":        "include: local file admin/gitlab-ci/global.gitlab-ci.yml does not exist",
	"passbolt__passbolt_api":  "include: local file .gitlab-ci/Jobs/php_unit_tests.yml does not exist",
	"wine-mirror__wine":       "include: local file tools/gitlab/image.yml does not exist",
	// Undecidable here: its templates come from a remote include (of
	// freedesktop.org's ci-templates), which a local run cannot fetch.
	"PipeWire__pipewire": `extends: no job or template named ".fdo.container-build@ubuntu" (it may come from the include: at line 15, which was left out)`,
}

// corpusHandChecked are the plans checked by hand (the corpus README):
// jobs that run, and of them those that wait to be started by hand.
var corpusHandChecked = map[string]struct{ jobs, manual int }{
	"alpinelinux__aports":  {0, 0}, // only: merge_requests
	"gajim__gajim":         {4, 0}, // the 4 test jobs
	"briar__briar":         {3, 2}, // 1 job, plus 2 manual
	"framasoft__mobilizon": {9, 0},
	"libvirt__libvirt":     {25, 0}, // check-dco is except: for the libvirt namespace
	// The README says "about 66 (51 are except: master)"; counting the
	// jobs that merge the except: master anchor gives 48, so 69 of 117.
	"tezos__tezos": {69, 0},
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	projects := corpusProjects(t, dir)
	entries, err := os.ReadDir(filepath.Join(dir, "gitlab"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no files in the corpus")
	}
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			project, ok := projects[name]
			if !ok {
				t.Fatalf("%s is not in SOURCES.tsv", name)
			}
			got := corpusPlan(t, filepath.Join(dir, "gitlab", name), project)
			checkGolden(t, filepath.Join("testdata", "corpus", name+".txt"), got)
		})
	}
}

// corpusProjects maps corpus directory names to owner/repo.
func corpusProjects(t *testing.T, dir string) map[string]string {
	data, err := os.ReadFile(filepath.Join(dir, "SOURCES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 2 && f[0] == "gitlab" {
			out[strings.ReplaceAll(f[1], "/", "__")] = f[1]
		}
	}
	return out
}

// corpusPlan parses one corpus file for a push to its default branch and
// renders the jobs that run, checking refusals and hand-checked counts.
func corpusPlan(t *testing.T, ws, project string) []byte {
	t.Helper()
	name := filepath.Base(ws)
	branch := "master"
	if corpusMain[project] {
		branch = "main"
	}
	file := filepath.Join(ws, ".gitlab-ci.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pl, _, err := Parse(file, data, Options{ProjectPath: project, Branch: branch, Workspace: ws})
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s, a push to its default branch %s\n", project, branch)
	want, refused := corpusRefused[name]
	switch {
	case err != nil && !refused:
		t.Fatalf("refused, but GitLab would accept it: %v", err)
	case err != nil:
		first := strings.TrimPrefix(yamlutil.Errors(err)[0].Error(), file+":")
		if !strings.Contains(first, want) {
			t.Errorf("refused with %q, expected a refusal containing %q", first, want)
		}
		// The corpus lies wherever shared/ was laid: keep its path out of
		// the golden files.
		first = strings.ReplaceAll(first, filepath.Dir(filepath.Dir(file)), "$CORPUS")
		fmt.Fprintf(&b, "refused: %s\n", first)
		return b.Bytes()
	case refused:
		t.Fatalf("accepted, but expected a refusal containing %q", want)
	}
	manual := 0
	for _, j := range pl.Jobs() {
		fmt.Fprintf(&b, "%s%s\n", j.Name, jobMark(j))
		if j.When == pipeline.Manual {
			manual++
		}
	}
	if hc, ok := corpusHandChecked[name]; ok && (len(pl.Jobs()) != hc.jobs || manual != hc.manual) {
		t.Errorf("%d jobs, %d manual; checked by hand: %d, %d manual", len(pl.Jobs()), manual, hc.jobs, hc.manual)
	}
	return b.Bytes()
}

func jobMark(j *pipeline.Job) string {
	if j.When == pipeline.Manual {
		return " (manual)"
	}
	if j.When != pipeline.OnSuccess {
		return " (when: " + string(j.When) + ")"
	}
	return ""
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing (go test ./dialect/gitlab -run TestCorpus -update)", path)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s", path, got)
	}
}
