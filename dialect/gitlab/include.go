package gitlab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"go.yaml.in/yaml/v3"
)

// maxIncludes is GitLab's limit on the files one pipeline may include.
const maxIncludes = 150

// maxIncludeDepth is GitLab's limit on nested includes.
const maxIncludeDepth = 100

// include is one entry of include:.
type include struct {
	at      *yaml.Node
	kind    string // local, file, remote, template, component
	names   []string
	project string
	rules   []rule
}

// withIncludes merges into root the files its include: names, as GitLab
// does: the included files first, each over the one before, then root
// over them all, map by map (lists are replaced). Nested includes are
// merged into their own file first. Files that cannot be had locally
// (remote, template, another project's, component) are left out with a
// warning that says which and why.
func (p *parser) withIncludes(root *yaml.Node, depth int) *yaml.Node {
	var list *yaml.Node
	for _, e := range p.pairs(root) {
		if e.Key.Value == "include" {
			list = e.Value
		}
	}
	if list == nil {
		return root
	}
	if depth >= maxIncludeDepth {
		p.errorf(list, "include: nested more than %d levels deep", maxIncludeDepth)
		return root
	}
	var merged *yaml.Node
	for _, inc := range p.includes(list) {
		for _, doc := range p.includeDocs(inc) {
			doc = p.withIncludes(doc, depth+1)
			if merged == nil {
				merged = doc
			} else {
				merged = p.deepMerge(merged, doc, 0, yamlutil.Resolve)
			}
		}
	}
	if merged == nil {
		return root
	}
	return p.deepMerge(merged, root, 0, yamlutil.Resolve)
}

// includes reads include:: a string, a map, or a list of either.
func (p *parser) includes(n *yaml.Node) []include {
	n = yamlutil.Resolve(n)
	list := []*yaml.Node{n}
	if n != nil && n.Kind == yaml.SequenceNode {
		list = n.Content
	}
	return items(p, list, yamlutil.Resolve, "include: expected a file name or a map such as {local: path}",
		func(at *yaml.Node, s string) include {
			kind := "local"
			if strings.Contains(s, "://") {
				kind = "remote"
			}
			return include{at: at, kind: kind, names: []string{s}}
		}, p.includeMap)
}

func (p *parser) includeMap(m *yaml.Node) (include, bool) {
	inc := include{at: m}
	for _, e := range p.pairs(m) {
		switch k := e.Key.Value; k {
		case "local", "remote", "template", "component":
			inc.kind = k
			inc.names, _ = p.stringOrList("include: "+k, e.Value)
		case "file":
			inc.kind = k
			inc.names, _ = p.stringOrList("include: file", e.Value)
		case "project":
			inc.project, _ = p.str("include: project", e.Value)
		case "rules":
			inc.rules = p.rules("include: rules", e.Value)
		case "ref", "inputs", "cache", "integrity":
			// ref: the project's own files are read from the workspace;
			// inputs: spec: headers are not read, so nothing takes them.
		default:
			p.warnf(e.Key, "unknown key %s in include:", k)
		}
	}
	if inc.kind == "" {
		p.errorf(m, "include: expected one of local, file, remote, template or component")
		return inc, false
	}
	if inc.kind == "file" && inc.project == "" {
		p.errorf(m, "include: file needs project:")
		return inc, false
	}
	return inc, true
}

// includeDocs reads what one include: entry names, if its rules let it.
func (p *parser) includeDocs(inc include) []*yaml.Node {
	if inc.rules != nil {
		if v := p.evalRules(inc.rules, p.newEvalContext(p.ref, p.scope(p.pre).lookup)); !v.run {
			return nil
		}
	}
	switch {
	case inc.kind == "local":
	case inc.kind == "file" && strings.EqualFold(strings.Trim(inc.project, "/"), strings.Trim(p.opts.ProjectPath, "/")):
		// This project's own file: the workspace has it.
	default:
		p.skipInclude(inc)
		return nil
	}
	var out []*yaml.Node
	for _, name := range inc.names {
		out = append(out, p.localInclude(inc.at, expandString(name, p.scope(p.pre).lookup))...)
	}
	return out
}

// skipInclude warns about an include that cannot be had locally.
func (p *parser) skipInclude(inc include) {
	why := map[string]string{
		"remote":    "slipway fetches nothing over the network",
		"template":  "GitLab's templates come with GitLab, not with the project",
		"component": "CI/CD components are fetched from a GitLab instance",
		"file":      fmt.Sprintf("project %s is another repository, which a local run does not have", inc.project),
	}[inc.kind]
	p.warnf(inc.at, "include: %s %s is left out: %s; jobs and templates it defines are missing", inc.kind, strings.Join(inc.names, ", "), why)
	p.skippedIncludes = append(p.skippedIncludes, inc.at.Line)
}

// localInclude reads the workspace files a local path names (with * and
// ** wildcards) and returns their documents.
func (p *parser) localInclude(at *yaml.Node, name string) []*yaml.Node {
	rel := path.Clean(strings.TrimPrefix(name, "/"))
	if !fs.ValidPath(rel) || rel == "." {
		p.errorf(at, "include: local %s is not a file inside the workspace", name)
		return nil
	}
	fsys := os.DirFS(p.workspaceDir())
	files := []string{rel}
	if strings.ContainsAny(rel, "*?[{") {
		files, _ = doublestar.Glob(fsys, rel, doublestar.WithFilesOnly())
		slices.Sort(files)
		if len(files) == 0 {
			p.errorf(at, "include: local %s matches no file in the workspace %s", name, p.workspaceDir())
		}
	}
	var out []*yaml.Node
	for _, f := range files {
		if doc := p.readInclude(at, fsys, f); doc != nil {
			out = append(out, doc)
		}
	}
	return out
}

func (p *parser) readInclude(at *yaml.Node, fsys fs.FS, rel string) *yaml.Node {
	if ext := path.Ext(rel); ext != ".yml" && ext != ".yaml" {
		p.errorf(at, "include: local %s: an included file must end in .yml or .yaml", rel)
		return nil
	}
	if p.included[rel] {
		return nil // GitLab reads a file included twice once
	}
	if len(p.included) >= maxIncludes {
		p.errorf(at, "include: more than %d files", maxIncludes)
		return nil
	}
	p.included[rel] = true
	data, err := fs.ReadFile(fsys, rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			p.errorf(at, "include: local file %s does not exist in the workspace %s", rel, p.workspaceDir())
		} else {
			p.errorf(at, "include: %v", err)
		}
		return nil
	}
	file := filepath.Join(p.workspaceDir(), filepath.FromSlash(rel))
	docs, err := yamlutil.Load(file, data)
	if err != nil {
		p.addErr(err)
		return nil
	}
	if len(docs) != 1 || docs[0].Kind != yaml.MappingNode {
		p.errorf(at, "include: %s: expected one YAML document holding a map of jobs and keywords", rel)
		return nil
	}
	p.markFile(docs[0], file)
	return docs[0]
}

// markFile records that the nodes of an included document come from
// file, so that messages about them name it.
func (p *parser) markFile(n *yaml.Node, file string) {
	if n == nil || !p.charge(1, n) {
		return
	}
	if _, done := p.nodeFile[n]; done {
		return
	}
	p.nodeFile[n] = file
	for _, c := range n.Content {
		p.markFile(c, file)
	}
}

// includeHint explains a missing template when includes were left out.
func (p *parser) includeHint() string {
	if len(p.skippedIncludes) == 0 {
		return ""
	}
	return fmt.Sprintf(" (it may come from the include: at line %d, which was left out)", p.skippedIncludes[0])
}
