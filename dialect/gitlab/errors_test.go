package gitlab

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

// billionLaughs is the classic alias bomb: 9^9 strings once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		refs := strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")
		fmt.Fprintf(&b, "%c: &%c [%s]\n", c, c, refs)
		prev = string(c)
	}
	b.WriteString("test:\n  script: *i\n")
	return b.String()
}

// errorCases are inputs with the exact errors they must give; FuzzParse
// also starts from them.
var errorCases = []struct {
	name, in string
	want     []string
}{
	{"malformed flow list", "test:\n  script: [echo\n",
		[]string{"ci.yml:2:3: invalid YAML: did not find expected ',' or ']'"}},
	{"malformed indentation", "test:\n  script:\n    - echo a\n   - echo b\n",
		[]string{"ci.yml:4:4: invalid YAML: did not find expected key"}},
	{"malformed tab", "test:\n\tscript: x\n",
		[]string{"ci.yml:2:1: invalid YAML: found character that cannot start any token"}},
	{"unknown anchor", "test:\n  script: *nope\n",
		[]string{"ci.yml:2:11: invalid YAML: unknown anchor 'nope' referenced"}},
	{"empty file", "# nothing\n",
		[]string{"ci.yml:1:1: the file is empty: expected a map of jobs"}},
	{"not a map", "- a\n- b\n",
		[]string{"ci.yml:1:1: expected a map of jobs and keywords, got a sequence"}},
	{"two documents", "a:\n  script: x\n---\nb: 2\n",
		[]string{"ci.yml:4:1: expected one YAML document, found a second one (--- starts a new document)"}},
	{"only hidden jobs", ".hidden:\n  script: x\n",
		[]string{"ci.yml:1:1: no jobs: a pipeline needs at least one job (keys starting with . are hidden templates)"}},
	{"only skipped jobs", "down:\n  trigger: group/other\n",
		[]string{"ci.yml:1:1: no jobs slipway can run: trigger: and run: jobs are skipped"}},
	{"job not a map", "test: 5\n",
		[]string{"ci.yml:1:7: job test: expected a map of job keywords, got a number"}},
	{"image sequence", "test:\n  image: [golang]\n  script: x\n",
		[]string{"ci.yml:2:10: image: expected a string or a map with name, got a sequence"}},
	{"image map without name", "test:\n  image: {entrypoint: [x]}\n  script: x\n",
		[]string{"ci.yml:2:10: image: name is required in the map form"}},
	{"bad image name", "test:\n  image: Golang:1\n  script: x\n",
		[]string{`ci.yml:2:10: image: invalid image name "Golang:1": invalid reference format: repository name (library/Golang) must be lowercase`}},
	{"bad service image name", "test:\n  script: x\n  services:\n    - name: \"redis:\"\n",
		[]string{`ci.yml:4:13: services: name: invalid image name "redis:": invalid reference format`}},
	{"entrypoint string", "test:\n  script: x\n  image:\n    name: alpine\n    entrypoint: /bin/sh\n",
		[]string{"ci.yml:5:17: image: entrypoint: expected a list of strings, got a string"}},
	{"bad pull policy", "test:\n  script: x\n  image:\n    name: alpine\n    pull_policy: [always, sometimes]\n",
		[]string{`ci.yml:5:27: pull_policy: unknown policy "sometimes": expected always, if-not-present or never`}},
	{"services string", "test:\n  script: x\n  services: redis\n",
		[]string{"ci.yml:3:13: services: expected a list of images (strings or maps with name), got a string"}},
	{"alias number", "test:\n  script: x\n  services:\n    - name: redis\n      alias: 5\n",
		[]string{"ci.yml:5:14: alias: expected a string, got a number"}},
	{"alias invalid", "test:\n  script: x\n  services:\n    - name: redis\n      alias: 'cache, b!'\n",
		[]string{`ci.yml:5:14: alias: invalid host name "b!": use letters, digits, '.', '-' and '_'`}},
	{"missing script", "test:\n  image: alpine\n",
		[]string{"ci.yml:1:1: job test: script is required"}},
	{"empty script", "test:\n  image: alpine\n  script: []\n",
		[]string{"ci.yml:3:3: job test: script is required and must not be empty"}},
	{"unquoted colon in script", "test:\n  script:\n    - echo foo: bar\n",
		[]string{`ci.yml:3:7: script: expected a string or a list of strings, got a map (a command containing ": " must be quoted)`}},
	{"script number", "test:\n  script:\n    - 42\n",
		[]string{"ci.yml:3:7: script: expected a string or a list of strings, got a number"}},
	{"unknown stage", "test:\n  stage: nope\n  script: x\n",
		[]string{`ci.yml:2:10: job test: stage "nope" is not defined in stages (.pre, build, test, deploy, .post)`}},
	{"default stage missing", "stages: [build]\ntest:\n  script: x\n",
		[]string{`ci.yml:2:1: job test: stage "test" is not defined in stages (.pre, build, .post)`}},
	{"stage listed twice", "stages: [build, build]\nx:\n  script: y\n",
		[]string{`ci.yml:1:17: stages: stage "build" is listed twice`}},
	{"pre misplaced", "stages: [build, .pre]\nx:\n  script: y\n",
		[]string{"ci.yml:1:17: stages: .pre must be the first stage"}},
	{"extends cycle", "a:\n  extends: b\n  script: x\nb:\n  extends: a\n",
		[]string{"ci.yml:5:12: extends: cycle: a → b → a"}},
	{"extends self", "a:\n  extends: a\n  script: x\n",
		[]string{"ci.yml:2:12: extends: cycle: a → a"}},
	{"extends missing", "a:\n  extends: [.base, .nope]\n  script: x\n.base:\n  image: alpine\n",
		[]string{`ci.yml:2:20: extends: no job or template named ".nope"`}},
	{"extends keyword", "a:\n  extends: variables\n  script: x\n",
		[]string{`ci.yml:2:12: extends: no job or template named "variables"`}},
	{"extends number", "test:\n  script: x\n  extends: [5]\n",
		[]string{"ci.yml:3:13: extends: expected a list of strings, found a number in it"}},
	{"billion laughs", billionLaughs(),
		[]string{"ci.yml:7:8: document too complex: more than 1000000 nodes once aliases are expanded"}},
	{"recursive anchor", "a: &a [*a]\n",
		[]string{"ci.yml:1:8: alias *a is inside the node it names (recursive anchor)"}},
	{"recursive anchor in map", "a: &a\n  b: *a\n",
		[]string{"ci.yml:2:6: alias *a is inside the node it names (recursive anchor)"}},
	{"bad timeout", "test:\n  script: x\n  timeout: forever\n",
		[]string{`ci.yml:3:12: timeout: invalid duration "forever": expected e.g. "1h 30m", "10 minutes" or a number of seconds`}},
	{"zero timeout", "x:\n  script: y\n  timeout: 0\n",
		[]string{`ci.yml:3:12: timeout: invalid duration "0": must be more than zero`}},
	{"variable list", "test:\n  script: x\n  variables:\n    A: [1]\n",
		[]string{"ci.yml:4:8: variable A: expected a string, a number, a boolean or a map with value, got a sequence"}},
	{"variable null", "variables:\n  A:\ntest:\n  script: x\n",
		[]string{"ci.yml:2:5: variable A: expected a string, a number, a boolean or a map with value, got null"}},
	{"secrets", "x:\n  script: x\n  secrets:\n    bad-name: {vault: a}\n    NOPROVIDER: {file: true}\n    F: {vault: a, file: maybe}\n",
		[]string{
			`ci.yml:4:5: secrets: "bad-name" is not a variable name (letters, digits and _)`,
			"ci.yml:5:5: secrets: NOPROVIDER names no provider (vault:, gcp_secret_manager:, azure_key_vault:, aws_secrets_manager:, akeyless:, gitlab_secrets_manager:)",
			"ci.yml:6:25: file: expected true or false, got a string",
		}},
	{"when unknown", "x:\n  script: x\n  when: sometimes\n",
		[]string{`ci.yml:3:9: when: expected on_success, on_failure, always, manual, delayed or never, got "sometimes"`}},
	{"allow_failure string", "x:\n  script: x\n  allow_failure: maybe\n",
		[]string{"ci.yml:3:18: allow_failure: expected true or false, got a string"}},
	{"default not a map", "default: 5\nx:\n  script: y\n",
		[]string{"ci.yml:1:10: default: expected a map, got a number"}},
	{"default and top level", "image: alpine\ndefault:\n  image: golang\nx:\n  script: y\n",
		[]string{"ci.yml:1:1: image: also set in default: at line 3; set it in one place"}},
	{"merge of a scalar", "x:\n  <<: 5\n  script: y\n",
		[]string{"ci.yml:2:7: <<: expected a map or a list of maps to merge, got a number"}},
	{"reference missing", "x:\n  script: !reference [.nope, script]\n",
		[]string{`ci.yml:2:23: !reference: no job or template named ".nope"`}},
	{"reference missing key", ".a:\n  image: alpine\nx:\n  script: !reference [.a, script]\n",
		[]string{`ci.yml:4:27: !reference: key "script" not found`}},
	{"reference cycle", ".a:\n  script: [!reference [.a, script]]\nx:\n  extends: .a\n",
		[]string{"ci.yml:2:11: script: lists nested more than 16 levels deep (a !reference cycle?)"}},
	{"reference to itself", ".a: !reference [.a, x]\nj:\n  script: !reference [.a, y]\n",
		[]string{"ci.yml:1:5: !reference: nested more than 10 levels deep (a reference cycle?)"}},
	{"unknown tag", "x:\n  script: !foo bar\n",
		[]string{"ci.yml:2:11: unknown YAML tag !foo (slipway knows !reference)"}},
	{"several errors", "a:\n  image: [x]\n  script: x\nb:\n  stage: nope\n  script: x\nc:\n  image: alpine\n",
		[]string{
			"ci.yml:2:10: image: expected a string or a map with name, got a sequence",
			`ci.yml:5:10: job b: stage "nope" is not defined in stages (.pre, build, test, deploy, .post)`,
			"ci.yml:7:1: job c: script is required",
		}},
	{"too large", "x:\n  script: y\n" + strings.Repeat("#", 4<<20),
		[]string{"ci.yml:1:1: file is too large: 4194319 bytes, the limit is 4194304 bytes (4 MiB)"}},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			pl, _, err := Parse("ci.yml", []byte(tt.in), Options{ProjectPath: "g/p"})
			if err == nil {
				t.Fatalf("no error; pipeline %+v", pl)
			}
			if pl != nil {
				t.Errorf("a pipeline was returned with the error")
			}
			var got []string
			for _, e := range yamlutil.Errors(err) {
				var pe *pipeline.Error
				if !errors.As(e, &pe) {
					t.Errorf("%v is a %T, not a *pipeline.Error", e, e)
				}
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}
