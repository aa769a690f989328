package web

import (
	"slices"
	"testing"
)

func TestAnsiLines(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"plain and escaped", "a <b> & c\n", []string{"a &lt;b&gt; &amp; c"}},
		{"colour and reset", "\x1b[31mred\x1b[0m plain\n", []string{`<span class="fg1">red</span> plain`}},
		{"bold bright on background", "\x1b[1;92;44mx\x1b[m", []string{`<span class="fgb2 bg4 b">x</span>`}},
		{"colour spans lines", "\x1b[33mone\ntwo\x1b[39m three\n", []string{`<span class="fg3">one</span>`, `<span class="fg3">two</span> three`}},
		{"other sequences dropped", "\x1b[0Kclear\x1b[2Jx\x1b(B\n", []string{"clearx"}},
		{"256 colours skipped", "\x1b[38;5;196;1mx\n", []string{`<span class="b">x</span>`}},
		{"carriage return redraws", "10%\r50%\r100%\r\n", []string{"100%"}},
		{"gitlab section marker hidden", "section_start:1:build\r\x1b[0Kbuilding\n", []string{"building"}},
		{"empty lines kept", "a\n\nb", []string{"a", "", "b"}},
		{"unterminated escape", "x\x1b[3", []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ansiLines([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("ansiLines(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
