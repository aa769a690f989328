package web

import (
	"bytes"
	"html"
	"strconv"
	"strings"
)

// style is the SGR state a run of log text is shown with.
type style struct {
	fg, bg                  string // "1".."7", "b1".."b7" (bright), "" default
	bold, italic, underline bool
}

func (s style) classes() string {
	var c []string
	if s.fg != "" {
		c = append(c, "fg"+s.fg)
	}
	if s.bg != "" {
		c = append(c, "bg"+s.bg)
	}
	if s.bold {
		c = append(c, "b")
	}
	if s.italic {
		c = append(c, "i")
	}
	if s.underline {
		c = append(c, "u")
	}
	return strings.Join(c, " ")
}

// ansiLines renders log bytes as one HTML string per line: text escaped,
// SGR colours as <span class>, other escape sequences dropped. Colour
// carries over line ends as it does in a terminal. A carriage return keeps
// only what follows it, as a terminal shows a redrawn progress line.
func ansiLines(data []byte) []string {
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil
	}
	var st style
	var out []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i := bytes.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		var b strings.Builder
		st = renderLine(&b, line, st)
		out = append(out, b.String())
	}
	return out
}

// renderLine writes one line and returns the style in force at its end.
func renderLine(b *strings.Builder, line []byte, st style) style {
	open := func() {
		if c := st.classes(); c != "" {
			b.WriteString(`<span class="` + c + `">`)
		}
	}
	closeSpan := func() {
		if st.classes() != "" {
			b.WriteString("</span>")
		}
	}
	open()
	for len(line) > 0 {
		i := bytes.IndexByte(line, 0x1b)
		if i < 0 {
			b.WriteString(html.EscapeString(string(line)))
			break
		}
		b.WriteString(html.EscapeString(string(line[:i])))
		seq, params, n := escape(line[i:])
		line = line[i+n:]
		if seq != 'm' {
			continue
		}
		closeSpan()
		st = sgr(st, params)
		open()
	}
	closeSpan()
	return st
}

// escape measures the escape sequence at the start of p: its final byte
// (0 for anything but a CSI sequence), its parameters and its length.
func escape(p []byte) (final byte, params string, n int) {
	if len(p) >= 2 && (p[1] == '(' || p[1] == ')') {
		return 0, "", min(3, len(p)) // character set: ESC ( B
	}
	if len(p) < 2 || p[1] != '[' {
		return 0, "", min(2, len(p))
	}
	for j := 2; j < len(p); j++ {
		if c := p[j]; c >= 0x40 && c <= 0x7e {
			return c, string(p[2:j]), j + 1
		}
	}
	return 0, "", len(p) // unterminated: drop the rest
}

// sgr applies Select Graphic Rendition parameters ("1;31").
func sgr(st style, params string) style {
	ps := strings.Split(params, ";")
	for k := 0; k < len(ps); k++ {
		n, err := strconv.Atoi(ps[k])
		if err != nil && ps[k] != "" {
			continue
		}
		switch {
		case n == 0:
			st = style{}
		case n == 1:
			st.bold = true
		case n == 3:
			st.italic = true
		case n == 4:
			st.underline = true
		case n == 22:
			st.bold = false
		case n == 23:
			st.italic = false
		case n == 24:
			st.underline = false
		case n >= 30 && n <= 37:
			st.fg = strconv.Itoa(n - 30)
		case n == 39:
			st.fg = ""
		case n >= 40 && n <= 47:
			st.bg = strconv.Itoa(n - 40)
		case n == 49:
			st.bg = ""
		case n >= 90 && n <= 97:
			st.fg = "b" + strconv.Itoa(n-90)
		case n >= 100 && n <= 107:
			st.bg = "b" + strconv.Itoa(n-100)
		case n == 38 || n == 48:
			k += extendedColourArgs(ps[k+1:]) // 256-colour and RGB: not shown
		}
	}
	return st
}

// extendedColourArgs is how many parameters follow 38 or 48.
func extendedColourArgs(rest []string) int {
	if len(rest) > 0 && rest[0] == "5" {
		return 2
	}
	if len(rest) > 0 && rest[0] == "2" {
		return 4
	}
	return 0
}
