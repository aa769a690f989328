package drone

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// stageVars are Drone's DRONE_STAGE_* variables of one pipeline document
// (a stage, in Drone's words), as Drone's runner sets them. A pipeline
// without platform: runs on the engine's (Drone's server says
// linux/amd64; its runner is the one that picks the stage up).
func (p *parser) stageVars(d *jobDoc) map[string]string {
	var deps []string
	for _, n := range d.deps {
		deps = append(deps, n.Value)
	}
	return map[string]string{
		"DRONE_STAGE_KIND": "pipeline", "DRONE_STAGE_TYPE": string(d.job.Target),
		"DRONE_STAGE_NAME": d.job.Name, "DRONE_STAGE_NUMBER": fmt.Sprint(d.number),
		"DRONE_STAGE_OS":      cmp.Or(d.os, p.ctx.OS, "linux"),
		"DRONE_STAGE_ARCH":    cmp.Or(d.arch, normalArch(p.ctx.Arch), "amd64"),
		"DRONE_STAGE_VARIANT": d.variant, "DRONE_STAGE_MACHINE": p.ctx.Hostname,
		"DRONE_STAGE_STATUS":     "success",
		"DRONE_STAGE_DEPENDS_ON": strings.Join(deps, ","),
	}
}

// docStart matches the line that starts a YAML document.
var docStart = regexp.MustCompile(`^---(\s|$)`)

// lineStages gives each line of the file (from 0) the stage variables
// of the pipeline document it is in, nil outside one. Drone's runner
// substitutes the file with the variables of the stage it runs, then
// reads that stage's document: each document sees its own stage's
// values. Which document is which, and its name, type and platform, come
// from a first reading (every line with a lone pipeline's values), whose
// problems are left to the real reading.
func (p *parser) lineStages(data []byte) []map[string]string {
	pre := &parser{file: p.file, ctx: p.ctx, axis: p.axis}
	lines := strings.SplitAfter(string(data), "\n")
	// The first reading gives every line the values of a lone pipeline
	// named default, so that image: x:${DRONE_STAGE_NUMBER} stays YAML.
	lone := pre.stageVars(&jobDoc{job: &pipeline.Job{Name: "default", Target: pipeline.TargetDocker}, number: 1})
	docs, _ := words.Load(p.file, pre.substitute(data, slices.Repeat([]map[string]string{lone}, len(lines))))
	// chunk[i] is the index of the document part line i is in.
	chunk := make([]int, len(lines))
	n := 0
	for i, l := range lines {
		if i > 0 && docStart.MatchString(l) {
			n++
		}
		chunk[i] = n
	}
	byChunk := map[int]map[string]string{}
	for _, root := range docs {
		j := pre.document(root)
		if j == nil || root.Line < 1 || root.Line > len(lines) {
			continue
		}
		if p.axis != nil {
			j.job.Name = p.axis.name()
		}
		byChunk[chunk[root.Line-1]] = pre.stageVars(j)
	}
	out := make([]map[string]string, len(lines))
	for i := range lines {
		out[i] = byChunk[chunk[i]]
	}
	return out
}

// withStage is env plus the stage's variables, env itself when there
// are none.
func withStage(env, stage map[string]string) map[string]string {
	if stage == nil {
		return env
	}
	out := maps.Clone(env)
	maps.Copy(out, stage)
	return out
}
