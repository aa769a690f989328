package secret

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// The forms of a value a person can read back from a log, as the tools
// that make them print them (issue 14).
func TestMaskReadableForms(t *testing.T) {
	token := "glpat-" + strings.Repeat("xY7_Qr2k", 9) // over 57 bytes: base64 wraps it
	special := "p@ss/w:rd+x y&z"
	m := masker(token, special)
	b64 := base64.StdEncoding.EncodeToString
	forms := map[string]string{
		"base64 | (76 columns)":         wrap(b64([]byte(token)), 76, "\n"),
		"base64 -w 4, CRLF":             wrap(b64([]byte(token)), 4, "\r\n"),
		"echo | base64 (token + \\n)":   wrap(b64([]byte(token+"\n")), 76, "\n"),
		"base64 at alignment 1":         wrap(b64([]byte("u"+token+"\n")), 76, "\n"),
		"base64 at alignment 2":         wrap(b64([]byte("us"+token)), 9, "\r\n"),
		"upper-case hex":                strings.ToUpper(hex.EncodeToString([]byte(token))),
		"xxd -p (wrapped at 60)":        wrap(hex.EncodeToString([]byte(token)), 60, "\n"),
		"per-byte percent":              "%70%40%73%73%2F%77%3A%72%64%2B%78%20%79%26%7A",
		"encodeURIComponent":            "p%40ss%2Fw%3Ard%2Bx%20y%26z",
		"fold -w1":                      wrap(special, 1, "\n"),
		"fold -w1 through a tty":        wrap(token, 1, "\r\n"),
		"coloured character by char":    "\x1b[31mp\x1b[0m@\x1b[1;32ms\x1b[0ms/w:rd+x y&z",
		"carriage return inside":        "p@ss/w\r:rd+x y&z",
		"query (already masked before)": url.QueryEscape(special),
	}
	for name, form := range forms {
		got := m.String("<" + form + ">")
		v := visible(got)
		if strings.Count(v, Mask) != 1 || len(v) > len("<>")+len(Mask)+6 {
			t.Errorf("%s: %q masked to %q", name, form, got)
		}
		// Split across writes at every point, the same.
		for i := range len(form) {
			if c := writeChunks(t, m, "<"+form+">", i, 1); c != got {
				t.Errorf("%s split at %d: %q, want %q", name, i, c, got)
			}
		}
	}
}

// A value that contains an escape sequence or a carriage return is masked
// printed as it is and as a terminal shows it.
func TestMaskValueWithControls(t *testing.T) {
	for _, v := range []string{"abc\x1b[0mdef", "secret\rvalue", "two\r\nlines here"} {
		m := masker(v)
		for _, in := range []string{v, visible(v), strings.ReplaceAll(v, "\r", "")} {
			if got := visible(m.String("<" + in + ">")); got != "<"+Mask+">" {
				t.Errorf("value %q printed as %q: %q", v, in, got)
			}
		}
	}
}

// A hidden run longer than maxGap gives up the match in progress, so what
// is held back stays bounded; the next occurrence is still masked.
func TestMaskGapBounded(t *testing.T) {
	m := masker("hunter2")
	w := m.Writer(&strings.Builder{}).(*writer)
	_, _ = w.Write([]byte("hun"))
	for range 1000 {
		_, _ = w.Write([]byte("\r\n\r\n\x1b[0m"))
	}
	if w.heldBack() > w.a.maxLen-1+w.a.maxGap {
		t.Errorf("%d bytes held", w.heldBack())
	}
	if got := m.String("hun" + strings.Repeat("\n", w.a.maxGap+1) + "ter2 hunter2"); !strings.HasSuffix(got, "ter2 "+Mask) {
		t.Errorf("got %q", got)
	}
}

// wrap is s in lines of width bytes, as base64 and fold print it.
func wrap(s string, width int, nl string) string {
	var b strings.Builder
	for ; len(s) > width; s = s[width:] {
		b.WriteString(s[:width] + nl)
	}
	return b.String() + s + nl
}

// readableForm writes v the way one of the tools above would, between
// filler; it returns the text and how many visible characters next to the
// mask may remain (base64 characters that share bits with the bytes around
// the value: fewer than 8 of its bits).
func readableForm(rng *rand.Rand, v string) (text string, head, tail int) {
	nl := []string{"\n", "\r\n"}[rng.IntN(2)]
	width := 1 + rng.IntN(100)
	var e string
	switch rng.IntN(10) {
	case 0:
		e = v
	case 1: // base64 of the value inside a larger blob, wrapped
		a := rng.IntN(3)
		pre, post := randBytes(rng, a), randBytes(rng, rng.IntN(3))
		enc := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding}[rng.IntN(2)]
		e = wrap(enc.EncodeToString([]byte(pre+v+post)), width, nl)
		head, tail = 3, 6
	case 2:
		h := hex.EncodeToString([]byte(v))
		if rng.IntN(2) == 0 {
			h = strings.ToUpper(h)
		}
		e = wrap(h, width, nl)
	case 3:
		e = percentEscape(v, func(byte) bool { return false })
	case 4:
		e = percentEscape(v, uriComponentSafe)
	case 5:
		e = []string{url.QueryEscape(v), url.PathEscape(v), jsonString(v)}[rng.IntN(3)]
	case 6: // fold -w1
		e = wrap(v, 1, nl)
	case 7, 8: // escape sequences or carriage returns between characters
		e = interleave(rng, v)
	default:
		e = wrap(v, width, nl)
	}
	return e, head, tail
}

// interleave puts colour codes or carriage returns between some of v's
// bytes, where v's own bytes are text (not inside an escape sequence of
// v's own, which an inserted one would end).
func interleave(rng *rand.Rand, v string) string {
	ins := []string{"\x1b[0m", "\x1b[1;31m", "\x1b[38;5;196m", "\r", "\x1b[K"}[rng.IntN(5)]
	var b strings.Builder
	st := lexText
	for i := 0; i < len(v); i++ {
		if st == lexText && rng.IntN(4) == 0 {
			b.WriteString(ins)
		}
		st, _ = lexStep(st, v[i])
		b.WriteByte(v[i])
	}
	return b.String()
}

func randBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

// checkForm masks pre+text+post in random chunks and checks that the value
// is one mask with at most head and tail visible characters around it.
func checkForm(t testing.TB, m *Masker, rng *rand.Rand, text string, head, tail int) {
	t.Helper()
	const pre, post = "out: ", " .\n"
	var b strings.Builder
	w := m.Writer(&b)
	in := pre + text + post
	for rest := in; rest != ""; {
		n := min(len(rest), 1+rng.IntN(1+rng.IntN(4096)))
		_, _ = w.Write([]byte(rest[:n]))
		rest = rest[n:]
		if mw := w.(*writer); mw.heldBack() > mw.a.maxLen-1+mw.a.maxGap {
			t.Fatalf("%d bytes held back", mw.heldBack())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, pre) || !strings.HasSuffix(out, post) {
		t.Fatalf("text %q: filler changed: %q", text, out)
	}
	before, after, ok := strings.Cut(out[len(pre):len(out)-len(post)], Mask)
	if !ok || strings.Contains(after, Mask) || len(visible(before)) > head || len(visible(after)) > tail {
		t.Fatalf("text %q masked to %q", text, out)
	}
}

// maskCases: 10,000 random forms of random secrets of 1 to 4 KiB of any
// bytes, in random chunks, and not one of the secret's bytes gets out.
// Each secret serves 20 forms: building a masker for 4 KiB of random bytes
// is the slow part.
func TestMaskRandomSecretsForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 0))
	for range 500 {
		v := randBytes(rng, 1024+rng.IntN(3*1024+1))
		m := masker(v)
		for range 20 {
			text, head, tail := readableForm(rng, v)
			checkForm(t, m, rng, text, head, tail)
		}
	}
}
