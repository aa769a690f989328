package gitlab

import "strings"

// maxExpanded bounds a value after expansion: A: $B$B, B: $C$C, ...
// doubles at each step, and no real variable is this long.
const maxExpanded = 1 << 16

// expandString replaces $NAME and ${NAME} with lookup's values, as
// gitlab-runner does: a name that is not defined becomes empty, $$ is a
// literal $, and a $ not followed by a name stays as written.
func expandString(s string, lookup lookupFunc) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		name, n := refAt(s[i:])
		switch {
		case n == 0:
			b.WriteByte('$')
			i++
			continue
		case name == "$":
			b.WriteByte('$')
		default:
			v, _ := lookup(name)
			b.WriteString(v)
		}
		i += n
		if b.Len() > maxExpanded {
			return s
		}
	}
	return b.String()
}

// refAt reads the reference at the start of s (which starts with $):
// its name ("$" for $$) and its length, or 0 when there is none.
func refAt(s string) (string, int) {
	if len(s) < 2 {
		return "", 0
	}
	if s[1] == '$' {
		return "$", 2
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end > 2 && validName(s[2:end]) {
			return s[2:end], end + 1
		}
		return "", 0
	}
	n := 1
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	if n == 1 {
		return "", 0
	}
	return s[1:n], n
}

// references tells whether s names a variable lookup does not know, so
// that an image name can be left for the runner, which knows more.
func unknownReference(s string, lookup lookupFunc) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		name, n := refAt(s[i:])
		if n == 0 {
			continue
		}
		if _, ok := lookup(name); !ok && name != "$" {
			return true
		}
		i += n - 1
	}
	return false
}

// varScope resolves a job's variables: each value expanded against the
// others (those of expand: false kept as written), as gitlab-runner does
// before the job starts.
type varScope struct {
	byName map[string]variable
	done   map[string]string
	busy   map[string]bool
	// above and below are the run's variables (Options.Env, BaseEnv),
	// which win over the file's and give way to them.
	above, below map[string]string
}

// scope is newScope with the run's variables around the file's.
func (p *parser) scope(vars []variable) *varScope {
	s := newScope(vars)
	s.above, s.below = p.above, p.below
	return s
}

// envMap reads NAME=VALUE lines; a line without = is ignored here (the
// plan reports it).
func envMap(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func newScope(vars []variable) *varScope {
	s := &varScope{byName: make(map[string]variable, len(vars)), done: map[string]string{}, busy: map[string]bool{}}
	for _, v := range vars {
		s.byName[v.name] = v
	}
	return s
}

// lookup is the expanded value of name. A variable that refers back to
// itself (A: $A:x, or a longer cycle) sees the reference as empty.
func (s *varScope) lookup(name string) (string, bool) {
	if v, ok := s.above[name]; ok {
		return v, true
	}
	v, ok := s.byName[name]
	if !ok {
		v, ok := s.below[name]
		return v, ok
	}
	if d, ok := s.done[name]; ok {
		return d, true
	}
	if v.raw {
		return v.value, true
	}
	if s.busy[name] {
		return "", true
	}
	s.busy[name] = true
	out := expandString(v.value, s.lookup)
	delete(s.busy, name)
	s.done[name] = out
	return out, true
}

// resolved lists the variables, values expanded, in the order given.
func (s *varScope) resolved(vars []variable) []variable {
	out := make([]variable, len(vars))
	for i, v := range vars {
		out[i] = v
		out[i].value, _ = s.lookup(v.name)
	}
	return out
}
