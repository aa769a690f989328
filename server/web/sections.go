package web

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strings"
)

// GitLab's collapsible sections: a runner writes
//
//	\e[0Ksection_start:<unix time>:<name>[collapsed=true]\r\e[0K<header>
//	...
//	\e[0Ksection_end:<unix time>:<name>\r\e[0K
//
// and the page shows the lines between as a <details> whose summary is
// the header line.
var sectionMarker = regexp.MustCompile(`section_(start|end):[0-9]+:([A-Za-z0-9_.-]+)(\[[^\]\r]*\])?\r`)

// sectionLine is a line that opens or closes a section, as the log stream
// sends it (other lines go as their HTML string).
type sectionLine struct {
	HTML      string `json:"h"`
	Start     string `json:"s,omitempty"`
	End       string `json:"e,omitempty"`
	Collapsed bool   `json:"c,omitempty"`
}

// logItems renders log bytes line by line: a string of HTML, or a
// sectionLine for a section's first or last line.
func logItems(data []byte) []any {
	html := ansiLines(data)
	raw := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	out := make([]any, len(html))
	for i, h := range html {
		out[i] = h
		m := sectionMarker.FindSubmatch(raw[i])
		switch {
		case m == nil:
		case string(m[1]) == "start":
			out[i] = sectionLine{HTML: h, Start: string(m[2]), Collapsed: bytes.Contains(m[3], []byte("collapsed=true"))}
		default:
			out[i] = sectionLine{HTML: h, End: string(m[2])}
		}
	}
	return out
}

// renderLog is the HTML of log lines numbered from first on, sections as
// <details>. A section still open at the end stays open (the page's
// script appends the lines that follow into it); a closed one's last line
// has the class "send", which is how the script tells them apart.
func renderLog(data []byte, first int) (template.HTML, int) {
	items := logItems(data)
	var b strings.Builder
	depth := 0
	for i, it := range items {
		n := first + i
		sl, ok := it.(sectionLine)
		switch {
		case !ok:
			line(&b, n, "line", it.(string))
		case sl.Start != "":
			open := " open"
			if sl.Collapsed {
				open = ""
			}
			fmt.Fprintf(&b, `<details class="section" data-section="%s"%s><summary class="line" id="L%d"><a class="ln" href="#L%d">%d</a><span>%s</span></summary>`,
				template.HTMLEscapeString(sl.Start), open, n, n, n, sl.HTML)
			depth++
		case depth > 0:
			line(&b, n, "line send", sl.HTML)
			b.WriteString("</details>")
			depth--
		default: // the end of a section that began before the lines shown
			line(&b, n, "line", sl.HTML)
		}
	}
	for ; depth > 0; depth-- {
		b.WriteString("</details>")
	}
	return template.HTML(b.String()), len(items) // the HTML is escaped by ansiLines
}

func line(b *strings.Builder, n int, class, html string) {
	fmt.Fprintf(b, `<div class="%s" id="L%d"><a class="ln" href="#L%d">%d</a><span>%s</span></div>`+"\n", class, n, n, n, html)
}
