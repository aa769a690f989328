package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// naiveMask is the specification the streaming writer must meet: take
// out the bytes a terminal hides (see lex.go); scan the visible bytes left
// to right; where patterns start, replace the longest, with the hidden
// bytes inside it, by tok; else copy one byte.
func naiveMask(s string, pats []string, tok string) string {
	var vis []byte
	var at []int // stream offset of each visible byte
	st := lexText
	for i := 0; i < len(s); i++ {
		var hidden bool
		if st, hidden = lexStep(st, s[i]); !hidden {
			vis = append(vis, s[i])
			at = append(at, i)
		}
	}
	var b strings.Builder
	last := 0 // s[:last] is done
	for k := 0; k < len(vis); {
		best := 0
		for _, p := range pats {
			if len(p) > best && bytes.HasPrefix(vis[k:], []byte(p)) {
				best = len(p)
			}
		}
		if best == 0 {
			k++
			continue
		}
		b.WriteString(s[last:at[k]])
		b.WriteString(tok)
		last = at[k+best-1] + 1
		k += best
	}
	b.WriteString(s[last:])
	return b.String()
}

// checkMask masks in whole and in random chunks and checks that
//   - both equal naiveMask,
//   - no more than longest−1 visible bytes and maxGap hidden ones are held
//     back after any Write,
//   - no secret value, none of its encodings, nor any other pattern is
//     left in the output as a terminal shows it (a stray ESC right before
//     a value hides its first bytes from the masker as from a terminal).
//
// The mask token is "\x00", which no pattern contains (values are free of
// NUL; the JSON form escapes it), so a pattern found in the output cannot
// straddle a mask and must be a leak.
func checkMask(t testing.TB, values []string, in string, rng *rand.Rand) {
	t.Helper()
	secrets := make(map[string]string)
	var long []string
	for i, v := range values {
		secrets[string(rune('A'+i))] = v
		if utf8.RuneCountInString(v) >= MinLen {
			long = append(long, v)
		}
	}
	m := NewMasker(secrets)
	const tok = "\x00"
	m.token = []byte(tok)
	pats := patterns(long)
	want := naiveMask(in, pats, tok)
	if m.a != nil && rng.IntN(2) == 0 {
		m.a.nDense = 1 + rng.Int32N(m.a.nDense) // exercise the failure-link path
	}

	if got := m.String(in); got != want {
		t.Fatalf("values %q, text %q:\nString %q\nwant   %q", values, in, got, want)
	}
	var b bytes.Buffer
	w := m.Writer(&b)
	for rest := in; rest != ""; {
		n := min(len(rest), 1+rng.IntN(1+rng.IntN(24)))
		if k, err := w.Write([]byte(rest[:n])); k != n || err != nil {
			t.Fatalf("Write = %d, %v", k, err)
		}
		rest = rest[n:]
		if mw, ok := w.(*writer); ok && mw.heldBack() > mw.a.maxLen-1+mw.a.maxGap {
			t.Fatalf("values %q, text %q: %d bytes held, longest pattern %d", values, in, mw.heldBack(), mw.a.maxLen)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Fatalf("values %q, text %q:\nchunked %q\nwant    %q", values, in, got, want)
	}
	for _, v := range long {
		if utf8.RuneCountInString(visible(v)) < MinLen {
			continue
		}
		for _, e := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), hex.EncodeToString([]byte(v)), url.QueryEscape(v)} {
			if strings.Contains(visible(want), e) {
				t.Fatalf("values %q, text %q: %q left in %q", values, in, e, want)
			}
		}
	}
	for _, p := range pats {
		if strings.Contains(visible(want), p) {
			t.Fatalf("values %q, text %q: pattern %q left in %q", values, in, p, want)
		}
	}
}

// randomCase makes secrets that overlap, prefix one another and span lines,
// and text built from fragments of them, their encodings and noise, over a
// small alphabet so that near-misses are frequent.
func randomCase(rng *rand.Rand) (values []string, text string) {
	const alpha = "aab\nc\r =%/\x1b[m1"
	str := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	for range 1 + rng.IntN(5) {
		var v string
		switch k := rng.IntN(5); {
		case k == 0 && len(values) > 0: // prefix of another secret
			o := values[rng.IntN(len(values))]
			v = o[:rng.IntN(len(o)+1)]
		case k == 1 && len(values) > 0: // overlaps another secret's end
			o := values[rng.IntN(len(values))]
			v = o[rng.IntN(len(o)+1):] + str(rng.IntN(5))
		case k == 2: // multi-line
			v = str(1+rng.IntN(5)) + "\n" + str(1+rng.IntN(5)) + "\r\n" + str(rng.IntN(4))
		default:
			v = str(1 + rng.IntN(10))
		}
		values = append(values, v)
	}
	var b strings.Builder
	for range rng.IntN(30) {
		v := values[rng.IntN(len(values))]
		switch rng.IntN(7) {
		case 0, 1:
			b.WriteString(v)
		case 2:
			b.WriteString(v[:rng.IntN(len(v)+1)])
		case 3:
			pre := str(rng.IntN(3))
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(pre + v + str(rng.IntN(3)))))
		case 4:
			b.WriteString([]string{hex.EncodeToString([]byte(v)), url.QueryEscape(v), url.PathEscape(v), jsonString(v), base64.RawURLEncoding.EncodeToString([]byte(v))}[rng.IntN(5)])
		default:
			b.WriteString(str(rng.IntN(8)))
		}
	}
	return values, b.String()
}

func TestMaskProperties(t *testing.T) {
	seed := uint64(20240611)
	rng := rand.New(rand.NewPCG(seed, 0))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		values, text := randomCase(rng)
		checkMask(t, values, text, rng) // failures print the values and text
	}
}

// FuzzMask: secrets are the NUL-separated parts of the first argument (NUL
// itself is reserved as the test's mask token); the seed places secrets,
// their encodings and the forms tools print them in (wrapped, folded,
// coloured) into the text and picks chunk boundaries.
func FuzzMask(f *testing.F) {
	f.Add("hunter2\x00hunt\x00ter", "my hunter2 is hunting", uint64(1))
	f.Add("abc\x00abcdef\x00cdefg", "abcdefg abcde", uint64(2))
	f.Add("-----BEGIN-----\nAAAA\r\nBBBB\n-----END-----\n", "key:\nAAAA\nBBBB", uint64(3))
	f.Add("a\x00ab\x00é€", "a ab é€", uint64(4))
	f.Add("p@ss/w:rd+x y&z\x00glpat-xY7_Qr2kxY7_Qr2kxY7_Qr2kxY7_Qr2kxY7_Qr2kxY7_Qr2kxY7_Qr2k", "\x1b[31mred\x1b[0m\r\n", uint64(5))
	f.Fuzz(func(t *testing.T, blob, text string, seed uint64) {
		if len(blob) > 300 || len(text) > 2000 {
			t.Skip()
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		values := strings.Split(blob, "\x00")
		text = strings.ReplaceAll(text, "\x00", "")
		for range rng.IntN(8) {
			v := values[rng.IntN(len(values))]
			if rng.IntN(3) == 0 {
				v = base64.StdEncoding.EncodeToString([]byte(text[:rng.IntN(min(3, len(text))+1)] + v))
			}
			if rng.IntN(2) == 0 { // a form a tool prints (see forms_test.go)
				v, _, _ = readableForm(rng, v)
			}
			at := rng.IntN(len(text) + 1)
			text = text[:at] + v + text[at:]
		}
		checkMask(t, values, text, rng)
	})
}
