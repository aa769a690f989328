package secret

// What a terminal does not show as text is not matched against the
// patterns: line breaks ("\n", "\r") and ANSI escape sequences (colours,
// cursor movement). A secret printed by `base64` (wrapped at 76 columns),
// `fold -w1`, through a tty (CRLF), or coloured a character at a time still
// reads whole to a person, so the masker matches what is left once these
// bytes are taken out, and masks the span of the stream that holds it,
// hidden bytes included. Patterns are stripped the same way (see visible).
//
// The one way this loses a match is an escape sequence left open just
// before a value (a lone ESC, or "ESC [" with no final byte): it swallows
// the value's first bytes, on a terminal as in the masker. Programs do not
// print that by accident.

// Lexer states.
const (
	lexText uint8 = iota
	lexEsc        // after ESC
	lexCSI        // inside ESC [ ... (parameters and intermediates)
)

// lexStep classifies byte b in lexer state s: whether it is hidden, and the
// state after it. As on a terminal, "\r" and "\n" inside an escape sequence
// do not end it, ESC restarts it, and any other byte that cannot continue it
// ends it and is shown as text.
func lexStep(s uint8, b byte) (next uint8, hidden bool) {
	switch {
	case b == '\r' || b == '\n':
		return s, true
	case b == 0x1b:
		return lexEsc, true
	case s == lexEsc && b == '[':
		return lexCSI, true
	case s == lexEsc && b >= 0x40 && b <= 0x5f: // two-byte escapes: ESC M, ESC c, ...
		return lexText, true
	case s == lexCSI && b >= 0x20 && b <= 0x3f: // parameters, intermediates
		return lexCSI, true
	case s == lexCSI && b >= 0x40 && b <= 0x7e: // the final byte
		return lexText, true
	}
	return lexText, false
}

// visible is s without the bytes a terminal hides, lexed from the start of
// a line.
func visible(s string) string {
	var b []byte
	st := lexText
	for i := 0; i < len(s); i++ {
		var hidden bool
		if st, hidden = lexStep(st, s[i]); !hidden {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// hiddenByte reports whether b is always hidden or starts a hidden
// sequence: the bytes that get the automaton's transparent column.
func hiddenByte(b byte) bool { return b == '\r' || b == '\n' || b == 0x1b }
