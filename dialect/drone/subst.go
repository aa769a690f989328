package drone

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/drone/envsubst"
	"github.com/slipway-ci/slipway/pipeline"
)

// substitute does what Drone does to a file before parsing it: every
// ${NAME...} (with bash's ${NAME:0:8}, ${NAME##prefix},
// ${NAME/a/b}, ${NAME=default}, ${NAME^^}, ...) becomes the value of the
// build's variable of that name, or nothing; $$ is a literal $. A value
// with a newline is written as a quoted string, as Drone writes it. $NAME
// without braces is left to the shell.
//
// Drone substitutes the whole file at once; this goes line by line so
// that a problem points at its line and lines keep their numbers. A
// ${...} cannot span lines in a YAML scalar that Drone reads, so the
// result is the same.
//
// stages gives each line's stage variables (nil: none), so that each
// pipeline document is substituted with its own DRONE_STAGE_* values.
func (p *parser) substitute(data []byte, stages []map[string]string) []byte {
	env := p.ctx.buildEnv()
	maps.Copy(env, p.ctx.runnerEnv())
	maps.Copy(env, p.axis)
	var out strings.Builder
	for i, line := range strings.SplitAfter(string(data), "\n") {
		var unknown []string
		lineEnv := env
		if i < len(stages) {
			lineEnv = withStage(env, stages[i])
		}
		lookup := func(name string) string {
			v, ok := lineEnv[name]
			if !ok {
				unknown = append(unknown, name)
			}
			if strings.Contains(v, "\n") {
				v = fmt.Sprintf("%q", v)
			}
			return v
		}
		s, err := envsubst.Eval(line, lookup)
		if err != nil {
			p.errorAt(p.linePos(i, line, "${"), "%v in a ${...} substitution (Drone substitutes variables in the whole file; write $$ for a literal $)", err)
			s = line
		}
		out.WriteString(s)
		p.warnUnknown(i, line, unknown)
	}
	return []byte(out.String())
}

// linePos is the place of the first occurrence of what in line number i
// (from 0), or the line's start.
func (p *parser) linePos(i int, line, what string) pipeline.Pos {
	col := strings.Index(line, what) + 1
	return pipeline.Pos{File: p.file, Line: i + 1, Column: max(col, 1)}
}

// hasDefault finds ${NAME:-x}, ${NAME=x} and ${NAME:=x}, whose default
// is used when NAME is unset.
var hasDefault = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):?[-=]`)

// warnUnknown tells about names that are no Drone variable: Drone
// replaces them with nothing, which surprises whoever meant the shell's
// ${HOME} or a step's environment.
func (p *parser) warnUnknown(i int, line string, names []string) {
	defaults := map[string]bool{}
	for _, m := range hasDefault.FindAllStringSubmatch(line, -1) {
		defaults[m[1]] = true
	}
	seen := map[string]bool{}
	for _, name := range names {
		if defaults[name] || seen[name] {
			continue
		}
		seen[name] = true
		p.warns = append(p.warns, pipeline.Errorf(p.linePos(i, line, "${"+name),
			"${%s} is not a Drone variable: Drone replaces it with nothing before reading the file (write $${%s} for the shell to expand it)",
			name, name))
	}
}
