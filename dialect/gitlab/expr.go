package gitlab

import (
	"fmt"
	"regexp"
	"strings"
)

// This file is GitLab's CI/CD expression language, used by rules:if,
// only:variables and except:variables:
//
//	$VAR  ${VAR}  "string"  'string'  null  /regex/flags
//	a == b   a != b   a =~ /re/   a !~ /re/   x && y   x || y   ( x )
//
// && binds tighter than ||, as in GitLab since 12.x. A variable that is
// not defined is null; a bare $VAR is true when it is defined and not
// empty. Regular expressions are RE2 (Go's regexp), which is what
// GitLab uses for untrusted patterns too.

// maxExprLen bounds an expression; GitLab's own limit is far lower in
// practice, and this keeps a hostile file from costing much.
const maxExprLen = 4096

// maxExprDepth bounds nested parentheses.
const maxExprDepth = 64

// expr is a parsed expression.
type expr interface {
	// eval returns the value: a string, nil (null) or a *regexp.Regexp
	// for operands; a bool for comparisons and boolean operators.
	eval(lookup lookupFunc) any
}

// Lookup finds a variable's value; ok is false when it is not defined.
type lookupFunc = func(name string) (value string, ok bool)

// parseExpr parses s. The error says what was found where, counting
// columns from 1.
func parseExpr(s string) (expr, error) {
	if len(s) > maxExprLen {
		return nil, fmt.Errorf("expression longer than %d characters", maxExprLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	ps := &exprParser{toks: toks}
	e, err := ps.or(0)
	if err != nil {
		return nil, err
	}
	if t := ps.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("column %d: unexpected %s", t.col, t)
	}
	return e, nil
}

// evalExpr parses and evaluates s to a boolean.
func evalExpr(s string, lookup lookupFunc) (bool, error) {
	e, err := parseExpr(s)
	if err != nil {
		return false, err
	}
	return truthy(e.eval(lookup)), nil
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v != ""
	case *regexp.Regexp:
		return true
	}
	return false
}

type tokKind int

const (
	tEOF tokKind = iota
	tVar
	tString
	tNull
	tRegex
	tEq
	tNe
	tMatch
	tNoMatch
	tAnd
	tOr
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // variable name, string value or regex source
	re   *regexp.Regexp
	col  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tVar:
		return "$" + t.text
	case tString:
		return fmt.Sprintf("string %q", t.text)
	case tRegex:
		return "regular expression " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

var operators = []struct {
	text string
	kind tokKind
}{
	{"==", tEq}, {"!=", tNe}, {"=~", tMatch}, {"!~", tNoMatch},
	{"&&", tAnd}, {"||", tOr}, {"(", tLParen}, {")", tRParen},
}

// lex splits s into tokens.
func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		t, n, err := lexOne(s, i)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		i += n
	}
	return append(out, token{kind: tEOF, col: len(s) + 1}), nil
}

// lexOne reads the token at s[i:] and returns it with its length.
func lexOne(s string, i int) (token, int, error) {
	col := i + 1
	rest := s[i:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op.text) {
			return token{kind: op.kind, text: op.text, col: col}, len(op.text), nil
		}
	}
	switch c := rest[0]; {
	case c == '$':
		return lexVar(rest, col)
	case c == '"' || c == '\'':
		end := strings.IndexByte(rest[1:], c)
		if end < 0 {
			return token{}, 0, fmt.Errorf("column %d: string not closed (missing %c)", col, c)
		}
		return token{kind: tString, text: rest[1 : end+1], col: col}, end + 2, nil
	case c == '/':
		return lexRegex(rest, col)
	case strings.HasPrefix(rest, "null") && !isNameByte(at(rest, 4)):
		return token{kind: tNull, text: "null", col: col}, 4, nil
	}
	return token{}, 0, fmt.Errorf("column %d: unexpected %q (expected $VARIABLE, a quoted string, null, /regex/ or an operator)", col, firstRune(rest))
}

func lexVar(rest string, col int) (token, int, error) {
	if strings.HasPrefix(rest, "${") {
		end := strings.IndexByte(rest, '}')
		if end < 0 || end == 2 || !validName(rest[2:end]) {
			return token{}, 0, fmt.Errorf("column %d: expected ${NAME}", col)
		}
		return token{kind: tVar, text: rest[2:end], col: col}, end + 1, nil
	}
	n := 1
	for n < len(rest) && isNameByte(rest[n]) {
		n++
	}
	if n == 1 {
		return token{}, 0, fmt.Errorf("column %d: expected a variable name after $", col)
	}
	return token{kind: tVar, text: rest[1:n], col: col}, n, nil
}

// lexRegex reads /pattern/flags; \/ inside the pattern is a slash.
func lexRegex(rest string, col int) (token, int, error) {
	i := 1
	for ; i < len(rest) && rest[i] != '/'; i++ {
		if rest[i] == '\\' {
			i++
		}
	}
	if i >= len(rest) {
		return token{}, 0, fmt.Errorf("column %d: regular expression not closed (missing /)", col)
	}
	n := i + 1
	for n < len(rest) && isNameByte(rest[n]) {
		n++
	}
	re, err := compileRegex(rest[1:i], rest[i+1:n])
	if err != nil {
		return token{}, 0, fmt.Errorf("column %d: %v", col, err)
	}
	return token{kind: tRegex, text: rest[:n], re: re, col: col}, n, nil
}

// compileRegex compiles a GitLab /pattern/flags. GitLab writes a slash
// in a pattern as \/, which RE2 also reads as a slash.
func compileRegex(pattern, flags string) (*regexp.Regexp, error) {
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			prefix += string(f)
		default:
			return nil, fmt.Errorf("regular expression flag %q is not supported (i, m and s are)", f)
		}
	}
	if prefix != "" {
		pattern = "(?" + prefix + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression /%s/: %v", pattern, err)
	}
	return re, nil
}

// regexValue reads a variable's value as a regular expression, which
// GitLab allows on the right of =~ when it is written /like this/.
func regexValue(s string) (*regexp.Regexp, bool) {
	re, isRe, err := slashRegex(s)
	return re, isRe && err == nil
}

// slashRegex reads a whole string written /pattern/flags; isRe is false
// when s is not written so.
func slashRegex(s string) (re *regexp.Regexp, isRe bool, err error) {
	if len(s) < 2 || s[0] != '/' {
		return nil, false, nil
	}
	end := strings.LastIndexByte(s, '/')
	if end == 0 {
		return nil, false, nil
	}
	re, err = compileRegex(s[1:end], s[end+1:])
	return re, true, err
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// exprParser is a recursive-descent parser over the tokens:
//
//	or   = and { "||" and }
//	and  = cmp { "&&" cmp }
//	cmp  = atom [ ("=="|"!="|"=~"|"!~") atom ]
//	atom = VAR | STRING | NULL | REGEX | "(" or ")"
type exprParser struct {
	toks []token
	pos  int
}

func (ps *exprParser) peek() token { return ps.toks[ps.pos] }

func (ps *exprParser) next() token {
	t := ps.toks[ps.pos]
	if t.kind != tEOF {
		ps.pos++
	}
	return t
}

func (ps *exprParser) or(depth int) (expr, error) {
	return ps.binary(depth, tOr, ps.and)
}

func (ps *exprParser) and(depth int) (expr, error) {
	return ps.binary(depth, tAnd, ps.cmp)
}

// binary parses operands joined by op, left to right.
func (ps *exprParser) binary(depth int, op tokKind, operand func(int) (expr, error)) (expr, error) {
	left, err := operand(depth)
	if err != nil {
		return nil, err
	}
	for ps.peek().kind == op {
		ps.next()
		right, err := operand(depth)
		if err != nil {
			return nil, err
		}
		left = logic{and: op == tAnd, l: left, r: right}
	}
	return left, nil
}

func (ps *exprParser) cmp(depth int) (expr, error) {
	left, err := ps.atom(depth)
	if err != nil {
		return nil, err
	}
	switch op := ps.peek().kind; op {
	case tEq, tNe, tMatch, tNoMatch:
		opTok := ps.next()
		right, err := ps.atom(depth)
		if err != nil {
			return nil, err
		}
		if _, isGroup := right.(paren); isGroup {
			return nil, fmt.Errorf("column %d: %s needs a value on its right, not a parenthesised expression", opTok.col, opTok.text)
		}
		return compare{op: op, l: left, r: right}, nil
	}
	return left, nil
}

func (ps *exprParser) atom(depth int) (expr, error) {
	t := ps.next()
	switch t.kind {
	case tVar:
		return varRef(t.text), nil
	case tString:
		return literal{t.text}, nil
	case tNull:
		return literal{nil}, nil
	case tRegex:
		return literal{t.re}, nil
	case tLParen:
		if depth >= maxExprDepth {
			return nil, fmt.Errorf("column %d: parentheses nested more than %d deep", t.col, maxExprDepth)
		}
		inner, err := ps.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := ps.next(); c.kind != tRParen {
			return nil, fmt.Errorf("column %d: expected ) to close the ( at column %d, found %s", c.col, t.col, c)
		}
		return paren{inner}, nil
	}
	return nil, fmt.Errorf("column %d: expected $VARIABLE, a quoted string, null, /regex/ or (, found %s", t.col, t)
}

type varRef string

func (v varRef) eval(lookup lookupFunc) any {
	if s, ok := lookup(string(v)); ok {
		return s
	}
	return nil
}

type literal struct{ v any }

func (l literal) eval(lookupFunc) any { return l.v }

type paren struct{ inner expr }

func (g paren) eval(lookup lookupFunc) any { return truthy(g.inner.eval(lookup)) }

type logic struct {
	and  bool
	l, r expr
}

func (b logic) eval(lookup lookupFunc) any {
	l := truthy(b.l.eval(lookup))
	if b.and {
		return l && truthy(b.r.eval(lookup))
	}
	return l || truthy(b.r.eval(lookup))
}

type compare struct {
	op   tokKind
	l, r expr
}

func (c compare) eval(lookup lookupFunc) any {
	l, r := c.l.eval(lookup), c.r.eval(lookup)
	switch c.op {
	case tEq:
		return equalValues(l, r)
	case tNe:
		return !equalValues(l, r)
	case tMatch:
		return matches(l, r)
	}
	return !matches(l, r)
}

// equalValues: null equals only null; strings compare exactly.
func equalValues(l, r any) bool {
	ls, lok := l.(string)
	rs, rok := r.(string)
	if lok && rok {
		return ls == rs
	}
	return l == nil && r == nil
}

// matches is =~: the right side is a /regex/ or a variable holding one;
// null never matches.
func matches(l, r any) bool {
	s, ok := l.(string)
	if !ok {
		return false
	}
	switch r := r.(type) {
	case *regexp.Regexp:
		return r.MatchString(s)
	case string:
		if re, ok := regexValue(r); ok {
			return re.MatchString(s)
		}
	}
	return false
}
