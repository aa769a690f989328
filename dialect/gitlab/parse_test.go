package gitlab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

func mustParse(t *testing.T, in string, opts Options) *pipeline.Pipeline {
	t.Helper()
	pl, _, err := Parse("ci.yml", []byte(in), opts)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestWorkspace(t *testing.T) {
	for path, want := range map[string]string{
		"group/project":   "/builds/group/project",
		"/group/project/": "/builds/group/project",
		"../../etc":       "/builds/etc",
		"":                "/builds",
	} {
		pl := mustParse(t, "x:\n  script: y\n", Options{ProjectPath: path})
		if got := pl.Jobs()[0].Workspace; got != want {
			t.Errorf("ProjectPath %q: workspace %q, want %q", path, got, want)
		}
	}
}

// Warnings are returned even when the file has errors, so a user sees
// everything at once.
func TestWarningsWithErrors(t *testing.T) {
	_, warns, err := Parse("ci.yml", []byte("x:\n  retry: 2\n  image: [x]\n  script: y\n"), Options{})
	if err == nil || len(warns) != 1 {
		t.Fatalf("err %v, warnings %v", err, warns)
	}
	if got := warns[0].Error(); got != "ci.yml:2:3: key retry is not supported by slipway and is ignored" {
		t.Errorf("warning %q", got)
	}
}

// A template shared through extends: is one node in the file but is
// interpreted once per job; the work budget stops a file that multiplies
// it beyond reason, quickly.
func TestExtendsBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(".t:\n  variables:\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "    V%d: x\n", i)
	}
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "j%d: {extends: .t, script: x}\n", i)
	}
	start := time.Now()
	_, _, err := Parse("ci.yml", []byte(b.String()), Options{})
	want := ": document too complex: more than 2000000 nodes to interpret once extends: and !reference are applied"
	if err == nil || !strings.HasPrefix(err.Error(), "ci.yml:") || !strings.HasSuffix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v, want ci.yml:line:col%s", err, want)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %v", d)
	}
}

// !reference fan-out is bounded the same way.
func TestReferenceBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(".a: [x, x]\n")
	prev := ".a"
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, ".r%d: [!reference [%s], !reference [%s]]\n", i, prev, prev)
		prev = fmt.Sprintf(".r%d", i)
	}
	fmt.Fprintf(&b, "x:\n  script: !reference [%s]\n", prev)
	_, _, err := Parse("ci.yml", []byte(b.String()), Options{})
	if err == nil || !strings.Contains(err.Error(), "nested more than 16 levels deep") {
		t.Errorf("got %v", err)
	}
}

// Jobs sharing default: services get their own copies, so the runner may
// modify one job's plan without touching another's.
func TestJobsDoNotShareModelValues(t *testing.T) {
	pl := mustParse(t, `default:
  image:
    name: alpine
    entrypoint: [""]
    pull_policy: [always]
  services: [{name: redis, alias: cache, pull_policy: never, entrypoint: [a], command: [b]}]
a:
  script: x
b:
  script: y
`, Options{})
	a, b := pl.Jobs()[0], pl.Jobs()[1]
	if a.Services[0] == b.Services[0] {
		t.Fatal("service pointer shared")
	}
	a.Services[0].Aliases[0] = "changed"
	a.Services[0].Image.Pull[0] = "changed"
	a.Services[0].Command[0] = "changed"
	a.Steps[0].Image.Pull[0] = "changed"
	if b.Services[0].Aliases[0] == "changed" || b.Services[0].Image.Pull[0] == "changed" ||
		b.Services[0].Command[0] == "changed" || b.Steps[0].Image.Pull[0] == "changed" {
		t.Error("a change to one job's plan leaked into another")
	}
	if b.Steps[0].Entrypoint == nil || len(b.Steps[0].Entrypoint) != 0 {
		t.Errorf("entrypoint [\"\"] should be an empty, non-nil slice, got %#v", b.Steps[0].Entrypoint)
	}
}

// The same input always gives the same plan (maps are iterated in
// several places).
func TestDeterministic(t *testing.T) {
	in := "variables: {Z: 1, A: 2, M: 3}\nx:\n  variables: {B: 4, A: 5}\n  services: [redis, postgres]\n  script: y\n"
	first := fmt.Sprintf("%+v", yamlEnv(mustParse(t, in, Options{}).Jobs()[0].Steps[0].Env))
	for i := 0; i < 20; i++ {
		if got := fmt.Sprintf("%+v", yamlEnv(mustParse(t, in, Options{}).Jobs()[0].Steps[0].Env)); got != first {
			t.Fatalf("run %d: %s, first %s", i, got, first)
		}
	}
	if first != "[{Name:A Value:5 FromSecret: File:false} {Name:B Value:4 FromSecret: File:false} {Name:M Value:3 FromSecret: File:false} {Name:Z Value:1 FromSecret: File:false}]" {
		t.Errorf("env %s", first)
	}
}

// A file full of mistakes reports the first ones and a count.
func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 70; i++ {
		fmt.Fprintf(&b, "j%d:\n  image: [x]\n  script: x\n", i)
	}
	_, _, err := Parse("ci.yml", []byte(b.String()), Options{})
	errs := yamlutil.Errors(err)
	if len(errs) != 51 {
		t.Fatalf("%d errors", len(errs))
	}
	if got := errs[50].Error(); got != "ci.yml:152:10: too many errors: 20 more not shown" {
		t.Errorf("last error %q", got)
	}
}

// A key written twice: GitLab (a Ruby Hash) keeps the last value in the
// place of the first key; slipway does the same and says so.
func TestDuplicateKeysKeepTheLast(t *testing.T) {
	in := "a:\n  script: one\nb:\n  script: b\n  script: bb\na:\n  script: three\n"
	pl, warns, err := Parse("ci.yml", []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range pl.Jobs() {
		names = append(names, j.Name+"="+strings.Join(j.Steps[0].Commands, ","))
	}
	if got := strings.Join(names, " "); got != "a=three b=bb" {
		t.Errorf("jobs %s, want a=three (the last a) then b", got)
	}
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.Error())
	}
	want := []string{
		"ci.yml:5:3: script is also written at line 4; as in GitLab, this later one is used",
		"ci.yml:6:1: a is also written at line 1; as in GitLab, this later one is used",
	}
	if !slices.Equal(ws, want) {
		t.Errorf("warnings %q, want %q", ws, want)
	}
}

func TestTypeIsStage(t *testing.T) {
	in := "stages: [build, test]\na:\n  type: build\n  script: x\nb:\n  type: build\n  stage: test\n  script: x\n"
	pl, warns, err := Parse("ci.yml", []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Stages) != 2 || pl.Stages[0].Jobs[0].Name != "a" || pl.Stages[1].Jobs[0].Name != "b" {
		t.Errorf("stages %+v: type: build puts a in build; b's stage: wins", pl.Stages)
	}
	if len(warns) != 2 || warns[0].Error() != "ci.yml:3:3: type is deprecated: use stage" {
		t.Errorf("warnings %v", warns)
	}
}

// wantParseErrors parses each input with opts and checks that the error
// contains the text given for it.
func wantParseErrors(t *testing.T, opts Options, cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		_, _, err := Parse("ci.yml", []byte(in), opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
