package yamlutil

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/pipeline"
)

// yaml.v3 reports a syntax error as "yaml: line N: problem" with no
// column. N is the line where the enclosing construct began, when there
// is one, rather than where the problem is; for a problem of the parser
// (as opposed to its scanner) it is 0-based, and "line N: " is left out
// when N is 0. A problem of the reader (a byte that is not UTF-8, or a
// control character) comes with no line at all, and an unknown anchor is
// reported by name.
var (
	lineRE   = regexp.MustCompile(`^line (\d+): `)
	anchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserProblems are the problems the parser reports, with a 0-based line.
var parserProblems = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError positions a parser error as well as the file allows.
func (w Words) syntaxError(file string, data []byte, err error) *pipeline.Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := anchorRE.FindStringSubmatch(msg); m != nil {
		return pipeline.Errorf(aliasPos(file, data, m[1]), "invalid YAML: %s", w.UnknownAnchor(m[1]))
	}
	from, msg, hasLine := reportedLine(msg)
	if !hasLine {
		// The reader stops at the first bad byte, so the problem is
		// that byte unless the file already fails before it.
		if off := badByte(data); off >= 0 && !failsWith(data[:off], msg) {
			return pipeline.Errorf(offsetPos(file, data, off), "invalid YAML: %s", msg)
		}
	}
	line := locate(data, msg, from)
	return pipeline.Errorf(pipeline.Pos{File: file, Line: line, Column: indentOf(data, line)}, "invalid YAML: %s", msg)
}

// reportedLine splits "line N: problem" off msg, N made 1-based: the line
// the problem is on or after. Without a line, that is line 1.
func reportedLine(msg string) (line int, problem string, ok bool) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return 1, msg, false
	}
	line, _ = strconv.Atoi(m[1])
	problem = msg[len(m[0]):]
	if parserProblems[problem] {
		line++
	}
	return line, problem, true
}

// locate finds the first line at or after from whose prefix of the file
// already fails with msg: that is the line the problem is on (from is
// where the enclosing construct began). It gives up (returning from)
// after scanning a bounded amount, to stay cheap on big files.
func locate(data []byte, msg string, from int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	end := 0
	for i := 0; i < from-1 && i < len(lines); i++ {
		end += len(lines[i])
	}
	budget := 16 * MaxFileSize
	for k := from; k <= len(lines) && k < from+1000 && budget > 0; k++ {
		end += len(lines[k-1])
		budget -= end
		if failsWith(data[:end], msg) {
			return k
		}
	}
	return from
}

// failsWith tells whether parsing data fails with msg.
func failsWith(data []byte, msg string) bool {
	_, err := parse(data)
	return err != nil && strings.HasSuffix(err.Error(), ": "+msg)
}

// indentOf is the 1-based column of the first byte of line n that is not
// a space: the closest yaml.v3 lets us get to the problem. A tab, which
// YAML refuses as indentation, is shown rather than skipped.
func indentOf(data []byte, n int) int {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return 1
	}
	l := lines[n-1]
	return len(l) - len(bytes.TrimLeft(l, " ")) + 1
}

// aliasPos is where the first use of alias name is (1:1 if none is
// found): "*name" followed by what cannot be part of a name, as yaml.v3
// scans one, so that *ab is not taken for *a.
func aliasPos(file string, data []byte, name string) pipeline.Pos {
	re := regexp.MustCompile(`\*` + regexp.QuoteMeta(name) + `(?:[^0-9A-Za-z_-]|$)`)
	off := 0
	if loc := re.FindIndex(data); loc != nil {
		off = loc[0]
	}
	return offsetPos(file, data, off)
}

// offsetPos is the position of byte offset off in data, the column in
// characters as yaml.v3 counts them.
func offsetPos(file string, data []byte, off int) pipeline.Pos {
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return pipeline.Pos{File: file, Line: line, Column: utf8.RuneCount(before[lineStart:]) + 1}
}

// badByte is the offset of the first byte yaml.v3's reader refuses:
// invalid UTF-8 or a control character; -1 if none.
func badByte(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f && r != 0x85) ||
			(r >= 0xd800 && r <= 0xdfff) || r == 0xfffe || r == 0xffff {
			return i
		}
		i += size
	}
	return -1
}
