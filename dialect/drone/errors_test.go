package drone

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

// billionLaughs expands to 9^9 nodes if followed naively.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
kind: pipeline
steps: [{name: s, image: alpine, environment: {X: *i}}]
`

var errorTests = []struct {
	name string
	in   string
	want []string // every error, in order, as file:line:col: message
}{
	{"malformed indentation", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n   commands: [x]\n",
		[]string{"t.yml:5:4: invalid YAML: mapping values are not allowed in this context"}},
	{"unclosed flow list", "kind: pipeline\nsteps: [\n",
		[]string{"t.yml:3:1: invalid YAML: did not find expected node content"}},
	{"tab indentation", "kind: pipeline\nsteps:\n\t- name: a\n",
		[]string{"t.yml:3:1: invalid YAML: found character that cannot start any token"}},
	{"unknown anchor", "kind: pipeline\nsteps: *nope\n",
		[]string{`t.yml:2:8: invalid YAML: unknown anchor "nope" referenced`}},
	{"control character", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n  commands: [\"\x01\"]\n",
		[]string{"t.yml:5:15: invalid YAML: control characters are not allowed"}},
	{"invalid UTF-8", "kind: pipeline\nsteps:\n- name: a\n  image: \xff\n",
		[]string{"t.yml:4:10: invalid YAML: invalid leading UTF-8 octet"}},
	{"document is a list", "- a\n- b\n",
		[]string{"t.yml:1:1: expected a mapping with kind: pipeline, got a list"}},
	{"kind not a string", "kind: [pipeline]\n",
		[]string{"t.yml:1:7: kind: expected a string, got a list"}},
	{"empty file", "",
		[]string{"t.yml:1:1: no pipeline found: expected a document with kind: pipeline (Drone 1.x) or a pipeline: map (Drone 0.x)"}},
	{"duplicate key", "kind: pipeline\nname: x\nname: y\nsteps: [{name: s, image: alpine}]\n",
		[]string{`t.yml:3:1: key "name" is already defined at line 2`}},
	{"steps not a list", "kind: pipeline\nsteps: build\n",
		[]string{"t.yml:2:8: steps: expected a list of steps, got a string"}},
	{"wrong types", "kind: pipeline\nsteps:\n- name: a\n  image: [alpine]\n  commands: {a: b}\n" +
		"  environment: [1, {A: [x]}, B]\n  privileged: maybe\n  pull: sometimes\n", []string{
		"t.yml:4:10: image: expected a string, got a list",
		"t.yml:5:13: commands: expected a list of shell commands, got a mapping",
		"t.yml:6:17: environment: expected NAME=value, got a string without =",
		`t.yml:6:24: environment "A": expected a string, a number, a boolean or {from_secret: name}, got a list`,
		"t.yml:6:30: environment: expected NAME=value, got a string without =",
		"t.yml:7:15: privileged: expected true or false, got a string",
	}},
	{"command looks like a mapping", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n  commands:\n  - echo a: b\n" +
		"  environment:\n    A=B: c\n    SECRET: {from_secret: x, other: y}\n", []string{
		`t.yml:6:5: commands: expected a string, got a mapping (quote a command that contains ": ")`,
		`t.yml:8:5: environment: "A=B" is not a valid variable name`,
		`t.yml:9:13: environment "SECRET": expected {from_secret: name}, got a mapping with other keys`,
	}},
	{"step without image or name", "kind: pipeline\nsteps:\n- name: a\n  commands: [echo]\n- image: alpine\n", []string{
		`t.yml:3:3: step "a" has no image`,
		"t.yml:5:3: step has no name",
	}},
	{"legacy service without image", "services:\n  db:\n    environment: [A=b]\n",
		[]string{`t.yml:2:3: service "db" has no image`}},
	{"duplicate step names", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n- name: a\n  image: alpine\n" +
		"services:\n- name: a\n  image: redis\n", []string{
		`t.yml:5:3: duplicate step or service name "a" (first defined at line 3)`,
		`t.yml:8:3: duplicate step or service name "a" (first defined at line 3)`,
	}},
	{"bad image names", "kind: pipeline\nsteps:\n- name: a\n  image: Alpine:latest\n- name: b\n  image: 'alpine::'\n" +
		"- name: c\n  image: ''\n", []string{
		`t.yml:4:10: invalid image name "Alpine:latest": invalid reference format: repository name (library/Alpine) must be lowercase`,
		`t.yml:6:10: invalid image name "alpine::": invalid reference format`,
		"t.yml:8:10: image: expected a string, got an empty string",
	}},
	{"unsupported pipeline type", "kind: pipeline\ntype: exec\nsteps: [{name: s, image: alpine}]\n",
		[]string{`t.yml:2:7: no pipeline slipway can run: type "exec" pipelines run on Drone's exec runner; slipway runs docker and kubernetes pipelines`}},
	{"bad substitution", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n  commands:\n  - echo ${!X}\n  - echo ${A\n", []string{
		"t.yml:6:10: unable to parse variable name in a ${...} substitution (Drone substitutes variables in the whole file; write $$ for a literal $)",
		"t.yml:7:10: missing closing brace in a ${...} substitution (Drone substitutes variables in the whole file; write $$ for a literal $)",
	}},
	{"duplicate pipeline names", "kind: pipeline\nname: x\nsteps: [{name: s, image: alpine}]\n---\n" +
		"kind: pipeline\nname: x\nsteps: [{name: s, image: alpine}]\n",
		[]string{`t.yml:6:7: duplicate pipeline name "x" (first defined at line 2)`}},
	{"unknown pipeline in depends_on", "kind: pipeline\nname: a\ndepends_on: [b, nope]\nsteps: [{name: s, image: alpine}]\n---\n" +
		"kind: pipeline\nname: b\nsteps: [{name: s, image: alpine}]\n",
		[]string{`t.yml:3:17: depends_on: unknown pipeline "nope"`}},
	{"pipeline cycle", "kind: pipeline\nname: a\ndepends_on: [c]\nsteps: [{name: s, image: alpine}]\n---\n" +
		"kind: pipeline\nname: b\ndepends_on: [a]\nsteps: [{name: s, image: alpine}]\n---\n" +
		"kind: pipeline\nname: c\ndepends_on: [b]\nsteps: [{name: s, image: alpine}]\n",
		[]string{"t.yml:3:1: depends_on: pipelines depend on each other in a cycle: a -> c -> b -> a"}},
	{"pipeline depends on itself", "kind: pipeline\nname: a\ndepends_on: [a]\nsteps: [{name: s, image: alpine}]\n",
		[]string{"t.yml:3:1: depends_on: pipelines depend on each other in a cycle: a -> a"}},
	{"step cycle and unknown step", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n  depends_on: [b]\n" +
		"- name: b\n  image: alpine\n  depends_on: [a, zz]\n", []string{
		"t.yml:5:3: depends_on: steps depend on each other in a cycle: a -> b -> a",
		`t.yml:8:19: depends_on: unknown step "zz"`,
	}},
	{"billion laughs", billionLaughs,
		[]string{"t.yml:7:8: document too complex: more than 1000000 YAML nodes in the file once aliases are expanded"}},
	{"recursive alias", "kind: pipeline\nsteps: &s\n- name: a\n  image: alpine\n  x: *s\n",
		[]string{"t.yml:5:6: document too complex: nested more than 1000 levels deep (a recursive alias?)"}},
	{"recursive merge", "kind: pipeline\nsteps:\n- &a\n  name: a\n  image: alpine\n  <<: *a\n",
		[]string{"t.yml:6:7: document too complex: nested more than 1000 levels deep (a recursive alias?)"}},
	{"bad credentials", "services:\n  db:\n    image: postgres\n    auth_config:\n      username: octocat\n      password: [pa55word]\n",
		[]string{"t.yml:6:17: auth_config password: expected a string, got a list"}},
	{"credentials without password", "services:\n  db:\n    image: postgres\n    auth_config:\n      username: octocat\n",
		[]string{"t.yml:4:5: auth_config: expected a username and a password"}},
	{"legacy volumes", "pipeline:\n  a:\n    image: alpine\n    volumes: [aa, 'rel:/x', '/a:/b:rw:x', '/a:/b:zz']\n", []string{
		"t.yml:4:15: volumes: expected /host/path:/container/path or /host/path:/container/path:ro",
		"t.yml:4:19: volumes: expected /host/path:/container/path or /host/path:/container/path:ro",
		"t.yml:4:29: volumes: expected /host/path:/container/path or /host/path:/container/path:ro",
		"t.yml:4:43: volumes: expected /host/path:/container/path or /host/path:/container/path:ro",
	}},
	{"v1 volumes", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n" +
		"  volumes: [{name: nope, path: /x}, {name: tmp, path: rel}, {path: /x}]\n" +
		"volumes:\n- name: tmp\n  temp: {}\n- name: tmp\n  host: {path: /y}\n- name: bad/name\n  temp: {}\n" +
		"- name: both\n  temp: {}\n  host: {path: /z}\n- name: rel\n  host: {path: rel}\n", []string{
		`t.yml:5:20: unknown volume "nope" (volumes are declared in the pipeline's volumes: section)`,
		"t.yml:5:55: volume path: expected an absolute path",
		"t.yml:5:61: volumes: expected a name and a path",
		`t.yml:9:9: duplicate volume name "tmp" (first defined at line 7)`,
		`t.yml:11:9: volume name "bad/name": expected letters, digits, _ . or - (as Docker volume names)`,
		`t.yml:13:3: volume "both": expected exactly one of host or temp`,
		"t.yml:17:16: host path: expected an absolute path",
	}},
	{"misc values", "kind: pipeline\ntimeout: forever\nworkspace: {base: rel}\n" +
		"steps: [{name: s, image: alpine, failure: always, entrypoint: \"sh -c 'x\"}]\n", []string{
		"t.yml:2:10: timeout: expected a duration such as 90m or 1h30m, or a number of minutes",
		"t.yml:3:19: workspace base: expected an absolute path",
		`t.yml:4:43: failure: expected ignore or fail, got "always"`,
		"t.yml:4:63: entrypoint: cannot split the string into arguments (EOF found when expecting closing quote); write a YAML list",
	}},
	{"host settings", "kind: pipeline\nvolumes: [{name: t, temp: {}}]\nsteps:\n- name: a\n  image: alpine\n  network_mode: bridge\n  cap_add: [\"NET ADMIN\"]\n  devices: [dev/x, /dev/x:/y:q, {name: t, path: /dev/t}, {name: nope, path: /dev/n}]\n",
		[]string{
			`t.yml:6:17: network_mode: only host is supported, got "bridge" (the default joins the pipeline's network)`,
			`t.yml:7:13: cap_add: "NET ADMIN" is not a capability name (like NET_ADMIN)`,
			"t.yml:8:13: devices: expected /dev/host, /dev/host:/dev/container or /dev/host:/dev/container:rwm",
			"t.yml:8:20: devices: expected /dev/host, /dev/host:/dev/container or /dev/host:/dev/container:rwm",
			`t.yml:8:33: devices: volume "t" is a temp volume; a device must name a host volume (host: {path: /dev/...})`,
		}},
	{"mounts over /run/drone and reserved volume names", "kind: pipeline\nvolumes: [{name: t, temp: {}}, {name: workspace, temp: {}}]\nsteps:\n- name: a\n  image: alpine\n" +
		"  volumes: [{name: t, path: /run/drone/env}, {name: t, path: /run/drone}, {name: t, path: /run/droneish}]\n",
		[]string{
			`t.yml:2:39: volume name "workspace" is reserved: Drone names its own volumes so`,
			"t.yml:6:13: volumes: cannot mount a volume at /run/drone/env: Drone keeps /run/drone for its own files (/run/drone/env)",
			"t.yml:6:46: volumes: cannot mount a volume at /run/drone: Drone keeps /run/drone for its own files (/run/drone/env)",
		}},
	{"conditions", "kind: pipeline\ntrigger: {status: [done]}\nsteps:\n- name: a\n  image: alpine\n  when: {branch: {only: [main]}, status: {exclude: [success, failure]}}\n",
		[]string{
			`t.yml:2:19: trigger.status: expected success or failure, got "done"`,
			`t.yml:6:19: when.branch: expected include or exclude, got "only"`,
			"t.yml:6:42: when.status: matches neither success nor failure; the step could never run",
		}},
	{"container settings", "kind: pipeline\nvolumes: [{name: t, temp: {medium: disk}}]\nsteps:\n- name: a\n  image: alpine\n" +
		"  working_dir: rel\n  dns: [dns.example.com]\n  dns_search: 'a b'\n  extra_hosts: [nohost, 'h:999.1.1.1']\n", []string{
		`t.yml:2:36: temp medium: expected memory, got "disk"`,
		"t.yml:6:16: working_dir: expected an absolute path",
		`t.yml:7:9: dns: expected an IP address, got "dns.example.com"`,
		`t.yml:8:15: dns_search: expected a domain name, got "a b"`,
		`t.yml:9:17: extra_hosts: expected name:ip, got "nohost"`,
		`t.yml:9:25: extra_hosts: expected name:ip, got "h:999.1.1.1"`,
	}},
	{"bad matrix", "matrix:\n  A: {x: 1}\npipeline:\n  a:\n    image: alpine\n",
		[]string{`t.yml:2:6: matrix "A": expected a list of strings, got a mapping`}},
	{"bad matrix include", "matrix:\n  include: [{A: [1]}, 5]\npipeline:\n  a:\n    image: alpine\n", []string{
		"t.yml:2:17: matrix: expected a value, got a list",
		"t.yml:2:23: matrix include: expected a mapping, got a number",
	}},
	{"bad merge", "kind: pipeline\nsteps:\n- name: a\n  image: alpine\n  <<: [x]\n",
		[]string{"t.yml:5:8: <<: expected a mapping to merge, got a string"}},
	{"errors in several documents", "kind: pipeline\nname: a\nsteps: [{name: s}]\n---\nkind: pipeline\nname: b\nsteps: [{image: alpine}]\n",
		[]string{`t.yml:3:9: step "s" has no image`, "t.yml:7:9: step has no name"}},
	{"error after a good document", "kind: pipeline\nsteps: [{name: s, image: alpine}]\n---\nkind: pipeline\nsteps: [\n",
		[]string{"t.yml:6:1: invalid YAML: did not find expected node content"}},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			pl, _, err := Parse("t.yml", []byte(tt.in), Context{})
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if pl != nil {
				t.Errorf("got a pipeline with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			assertPipelineErrors(t, err)
		})
	}
}

// assertPipelineErrors: every joined error is a *pipeline.Error with a
// position.
func assertPipelineErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error is %T, not an errors.Join", err)
	}
	for _, e := range joined.Unwrap() {
		var pe *pipeline.Error
		if !errors.As(e, &pe) || pe.Pos.File != "t.yml" || pe.Pos.Line == 0 {
			t.Errorf("%v: not a positioned *pipeline.Error", e)
		}
	}
}

func TestTooLarge(t *testing.T) {
	data := []byte("kind: pipeline\n# " + strings.Repeat("x", yamlutil.MaxFileSize) + "\n")
	_, _, err := Parse("big.yml", data, Context{})
	want := "big.yml: file is 4194322 bytes; a pipeline file may be at most 4 MiB"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: pipeline\nsteps:\n")
	for range yamlutil.MaxErrors + 10 {
		b.WriteString("- image: alpine\n")
	}
	_, _, err := Parse("t.yml", []byte(b.String()), Context{})
	lines := strings.Split(err.Error(), "\n")
	// As the GitLab dialect says it: at the first problem left out.
	if last := lines[len(lines)-1]; len(lines) != yamlutil.MaxErrors+1 || !strings.HasPrefix(last, "t.yml:") || !strings.HasSuffix(last, ": too many errors: 10 more not shown") {
		t.Errorf("got %d lines ending %q", len(lines), lines[len(lines)-1])
	}
}

// TestCredentialsNeverShown: a password in auth_config is in the model but
// in no output: not the JSON, not a warning, not an error.
func TestCredentialsNeverShown(t *testing.T) {
	inputs := []string{
		"services:\n  db:\n    image: postgres\n    auth_config:\n      username: octocat\n      password: pa55word\n      colour: pa55word\n",
		"services:\n  db:\n    image: postgres\n    auth_config:\n      username: octocat\n      password: pa55word\n      email: [pa55word]\n",
		"services:\n  db:\n    image: postgres\n    auth_config: {username: octocat, password: pa55word, password: pa55word}\n",
		"pipeline:\n  a:\n    image: alpine\n    environment: [pa55word]\n",
	}
	for _, in := range inputs {
		pl, warns, err := Parse("t.yml", []byte(in), Context{})
		out := string(render(t, "t.yml", []byte(in)))
		for _, w := range warns {
			out += w.Error()
		}
		if err != nil {
			out += err.Error()
		}
		if strings.Contains(out, "pa55word") {
			t.Errorf("password shown:\n%s", out)
		}
		if err == nil && pl.Jobs()[0].Services[0].Image.Auth.Password != "pa55word" {
			t.Errorf("credentials lost")
		}
	}
}

// TestComplexityIsPerFile: documents each under the limit cannot add up to
// an unbounded walk, and the file is refused once, not per document.
func TestComplexityIsPerFile(t *testing.T) {
	doc := `a: &a [x,x,x,x,x,x,x,x,x,x]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
kind: pipeline
steps: [{name: s, image: alpine}]
name: p`
	var in strings.Builder
	for i := range 12 {
		fmt.Fprintf(&in, "%s%d\n---\n", doc, i)
	}
	_, _, err := Parse("t.yml", []byte(in.String()), Context{})
	want := "t.yml:68:14: document too complex: more than 1000000 YAML nodes in the file once aliases are expanded"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
