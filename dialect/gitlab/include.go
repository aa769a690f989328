package gitlab

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
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
		for _, doc := range p.includeDocs(inc, p.docBase[root]) {
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
// base is where local: paths are, when the including file is another
// project's (from --include-dir); "" for the workspace.
func (p *parser) includeDocs(inc include, base string) []*yaml.Node {
	if inc.rules != nil {
		if v := p.evalRules(inc.rules, p.newEvalContext(p.ref, p.scope(p.pre).lookup)); !v.run {
			return nil
		}
	}
	lookup := p.scope(p.pre).lookup
	switch {
	case inc.kind == "local":
	case inc.kind == "file" && strings.EqualFold(strings.Trim(inc.project, "/"), strings.Trim(p.opts.ProjectPath, "/")):
		base = "" // this project's own file: the workspace has it
	case p.opts.IncludeDir != "" && inc.kind != "component":
		return p.includeDirDocs(inc, lookup)
	default:
		p.skipInclude(inc)
		return nil
	}
	var out []*yaml.Node
	for _, name := range inc.names {
		out = append(out, p.localInclude(inc.at, expandString(name, lookup), base)...)
	}
	return out
}

// includeDirDocs reads an include: of another project, a remote file or
// a template from --include-dir: DIR/<project>/<file>, DIR/<host>/<path>
// and DIR/templates/<name>. A project's files include their own local:
// files from DIR/<project>.
func (p *parser) includeDirDocs(inc include, lookup lookupFunc) []*yaml.Node {
	dir := p.opts.IncludeDir
	var out []*yaml.Node
	for _, name := range inc.names {
		name = expandString(name, lookup)
		var rel, base string
		switch inc.kind {
		case "file":
			project := strings.Trim(expandString(inc.project, lookup), "/")
			rel, base = path.Join(project, strings.TrimPrefix(name, "/")), filepath.Join(dir, filepath.FromSlash(project))
		case "remote":
			u, err := url.Parse(name)
			if err != nil || u.Host == "" {
				p.errorf(inc.at, "include: remote %s is not a URL", name)
				continue
			}
			rel = path.Join(u.Host, u.Path)
		case "template":
			rel = path.Join("templates", name)
		}
		rel = path.Clean(rel)
		if !fs.ValidPath(rel) || rel == "." {
			p.errorf(inc.at, "include: %s %s does not name a file inside --include-dir %s", inc.kind, name, dir)
			continue
		}
		if doc := p.readInclude(inc.at, dir, "--include-dir", rel); doc != nil {
			if base != "" {
				p.docBase[doc] = base
			}
			out = append(out, doc)
		}
	}
	return out
}

// skipInclude warns about an include that cannot be had locally.
func (p *parser) skipInclude(inc include) {
	why := map[string]string{
		"remote":    "slipway fetches nothing over the network (--include-dir DIR reads it from DIR/<host>/<path>)",
		"template":  "GitLab's templates come with GitLab, not with the project (--include-dir DIR reads it from DIR/templates/<name>)",
		"component": "CI/CD components are fetched from a GitLab instance",
		"file":      fmt.Sprintf("project %s is another repository, which a local run does not have (--include-dir DIR reads it from DIR/%s/<file>)", inc.project, strings.Trim(inc.project, "/")),
	}[inc.kind]
	p.warnf(inc.at, "include: %s %s is left out: %s; jobs and templates it defines are missing", inc.kind, strings.Join(inc.names, ", "), why)
	p.skippedIncludes = append(p.skippedIncludes, inc.at.Line)
}

// localInclude reads the files a local path names (with * and **
// wildcards) in the workspace, or in base when the including file is
// another project's, and returns their documents.
func (p *parser) localInclude(at *yaml.Node, name, base string) []*yaml.Node {
	dir, where := p.workspaceDir(), "the workspace"
	if base != "" {
		dir, where = base, "--include-dir"
	}
	rel := path.Clean(strings.TrimPrefix(name, "/"))
	if !fs.ValidPath(rel) || rel == "." {
		p.errorf(at, "include: local %s is not a file inside %s", name, where)
		return nil
	}
	files := []string{rel}
	if strings.ContainsAny(rel, "*?[{") {
		files, _ = doublestar.Glob(os.DirFS(dir), rel, doublestar.WithFilesOnly())
		slices.Sort(files)
		if len(files) == 0 {
			p.errorf(at, "include: local %s matches no file in %s %s", name, where, dir)
		}
	}
	var out []*yaml.Node
	for _, f := range files {
		if doc := p.readInclude(at, dir, where, f); doc != nil {
			if base != "" {
				p.docBase[doc] = base
			}
			out = append(out, doc)
		}
	}
	return out
}

// readInclude reads dir/rel; where names dir in messages ("the
// workspace", "--include-dir").
func (p *parser) readInclude(at *yaml.Node, dir, where, rel string) *yaml.Node {
	if ext := path.Ext(rel); ext != ".yml" && ext != ".yaml" {
		p.errorf(at, "include: local %s: an included file must end in .yml or .yaml", rel)
		return nil
	}
	file := filepath.Join(dir, filepath.FromSlash(rel))
	if p.included[file] {
		return nil // GitLab reads a file included twice once
	}
	if len(p.included) >= maxIncludes {
		p.errorf(at, "include: more than %d files", maxIncludes)
		return nil
	}
	p.included[file] = true
	data, err := fs.ReadFile(os.DirFS(dir), rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && where == "--include-dir" {
			p.errorf(at, "include: %s does not exist in --include-dir %s", rel, dir)
		} else if errors.Is(err, fs.ErrNotExist) {
			p.errorf(at, "include: local file %s does not exist in %s %s", rel, where, dir)
		} else {
			p.errorf(at, "include: %v", err)
		}
		return nil
	}
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
