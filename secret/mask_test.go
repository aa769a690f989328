package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func masker(values ...string) *Masker {
	secrets := make(map[string]string)
	for i, v := range values {
		secrets[string(rune('A'+i))] = v
	}
	return NewMasker(secrets)
}

// writeChunks writes s in the given chunk sizes (the rest in one piece) and
// closes; it returns what reached the underlying writer.
func writeChunks(t testing.TB, m *Masker, s string, sizes ...int) string {
	t.Helper()
	var b bytes.Buffer
	w := m.Writer(&b)
	for _, n := range sizes {
		n = min(n, len(s))
		if k, err := io.WriteString(w, s[:n]); k != n || err != nil {
			t.Fatalf("Write = %d, %v", k, err)
		}
		s = s[n:]
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMaskBasic(t *testing.T) {
	m := masker("hunter2", "s3cr3t-token")
	for in, want := range map[string]string{
		"":                                "",
		"nothing here":                    "nothing here",
		"hunter2":                         "[MASKED]",
		"pw=hunter2 again hunter2hunter2": "pw=[MASKED] again [MASKED][MASKED]",
		"hunter s3cr3t-toke s3cr3t-token": "hunter s3cr3t-toke [MASKED]",
		"\x00\xffhunter2\n":               "\x00\xff[MASKED]\n",
	} {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
		if got := writeChunks(t, m, in); got != want {
			t.Errorf("Writer(%q) = %q, want %q", in, got, want)
		}
	}
}

// A value split across Write calls at any boundary, or byte by byte.
func TestMaskSplitWrites(t *testing.T) {
	m := masker("hunter2", "swordfish")
	in := "a hunter2 b swordfishhunter2 swordfis hunter c"
	want := m.String(in)
	if want != "a [MASKED] b [MASKED][MASKED] swordfis hunter c" {
		t.Fatalf("String = %q", want)
	}
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			if got := writeChunks(t, m, in, i, j-i); got != want {
				t.Fatalf("split at %d,%d: %q", i, j, got)
			}
		}
	}
	ones := make([]int, len(in))
	for i := range ones {
		ones[i] = 1
	}
	if got := writeChunks(t, m, in, ones...); got != want {
		t.Errorf("byte by byte: %q", got)
	}
}

func TestMaskMultiLine(t *testing.T) {
	key := "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----\n"
	m := masker(key)
	for _, in := range []string{
		key,
		strings.ReplaceAll(key, "\n", "\r\n"), // through a tty
		"    " + strings.ReplaceAll(key, "\n", "\n    "), // indented in YAML
		"line 2 is hkiG9w0BAQEFAASC, line 1 is MIIEvQIBADANBgkq.",
	} {
		got := m.String(in)
		for _, line := range []string{"MIIEvQIBADANBgkq", "hkiG9w0BAQEFAASC", "BEGIN KEY"} {
			if strings.Contains(got, line) {
				t.Errorf("String(%q) = %q: %q not masked", in, got, line)
			}
		}
	}
	// The whole value is one match: longer than any of its lines.
	// The value's final line break is hidden, so it is left out of the match.
	if got := m.String("<" + key + ">"); got != "<[MASKED]\n>" {
		t.Errorf("whole key: %q", got)
	}
	// Lines shorter than MinLen are not masked on their own.
	if got := masker("ab\nxyz\n").String("ab xyz"); got != "ab [MASKED]" {
		t.Errorf("short line: %q", got)
	}
}

func TestMaskEncodings(t *testing.T) {
	const v = "p@ss w/rd+?&=\"\\ é~\x01"
	m := masker(v)
	enc := map[string]string{
		"base64":         base64.StdEncoding.EncodeToString([]byte(v)),
		"base64 raw":     base64.RawStdEncoding.EncodeToString([]byte(v)),
		"base64 url":     base64.URLEncoding.EncodeToString([]byte(v)),
		"base64 url raw": base64.RawURLEncoding.EncodeToString([]byte(v)),
		"hex":            hex.EncodeToString([]byte(v)),
		"query":          url.QueryEscape(v),
		"path":           url.PathEscape(v),
		"json":           `p@ss w/rd+?&=\"\\ é~\u0001`,
	}
	for name, e := range enc {
		if got := m.String("[" + e + "]"); got != "[[MASKED]]" {
			t.Errorf("%s %q: got %q", name, e, got)
		}
	}
	pats := patterns([]string{v})
	if len(slices.Compact(slices.Clone(pats))) != len(pats) {
		t.Errorf("duplicate patterns: %q", pats)
	}

	// base64 of the value embedded at each alignment in a larger blob:
	// the stable core is masked whatever the neighbouring bytes are.
	for a := range 3 {
		for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for _, around := range []string{"\x00\x00\x00\x00", "\xff\xff\xff\xff", "user:", "!!"} {
				blob := e.EncodeToString([]byte(around[:a] + v + around))
				core := b64core(e.WithPadding(base64.NoPadding), v, a)
				got := m.String(blob)
				if !strings.Contains(blob, core) || strings.Contains(got, core) || !strings.Contains(got, Mask) {
					t.Errorf("alignment %d around %q: blob %q masked to %q (core %q)", a, around, blob, got, core)
				}
			}
		}
	}
	// echo $TOKEN | base64: the encoding of "token\n".
	tok := "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	blob := base64.StdEncoding.EncodeToString([]byte(tok + "\n"))
	if got := masker(tok).String(blob); len(got) > len(Mask)+4 {
		t.Errorf("echo | base64: %q → %q", blob, got)
	}

	// Encodings equal to the value are not added twice; hex of a value
	// that is already lowercase hex is a different string and is added.
	if got := patterns([]string{"abcdef"}); slices.Contains(got, "") || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("patterns(abcdef) = %q", got)
	}
}

func TestShortSecretsSkipped(t *testing.T) {
	m := NewMasker(map[string]string{
		"EMPTY": "", "ONE": "1", "TWO": "no", "UNICODE2": "é€", "THREE": "abc", "UNICODE3": "日本語",
	})
	if got := strings.Join(m.Skipped(), ","); got != "EMPTY,ONE,TWO,UNICODE2" {
		t.Errorf("Skipped = %s", got)
	}
	in := "1 no é€ abc 日本語 not"
	if got := m.String(in); got != "1 no é€ [MASKED] [MASKED] not" {
		t.Errorf("String = %q", got)
	}
	// Only names are reported.
	m = NewMasker(map[string]string{"PIN": "42"})
	if got := m.Skipped(); len(got) != 1 || got[0] != "PIN" || m.String("42") != "42" {
		t.Errorf("Skipped = %q", got)
	}
	if _, ok := m.Writer(io.Discard).(*passThrough); !ok {
		t.Error("only short secrets: want a pass-through writer")
	}
}

func TestMaskOverlaps(t *testing.T) {
	for _, tc := range []struct {
		secrets []string
		in      string
		want    string
	}{
		{[]string{"abc", "abcdef"}, "abcdef abcdeX abc", "[MASKED] [MASKED]deX [MASKED]"}, // longest wins
		{[]string{"abcd", "cdef"}, "abcdef", "[MASKED]ef"},                                // leftmost wins
		{[]string{"bcdef", "abc"}, "xabcdef", "x[MASKED]def"},                             // leftmost, though shorter
		{[]string{"abc", "bcd", "cde"}, "abcde", "[MASKED]de"},
		{[]string{"aaa"}, "aaaaaaa", "[MASKED][MASKED]a"},
		{[]string{"xyzw", "yz0"}, "xyz0", "x[MASKED]"}, // the long candidate dies, the inner one is kept
		{[]string{"abcdefgh", "cde"}, "abcdefgX", "ab[MASKED]fgX"},
	} {
		m := masker(tc.secrets...)
		if got := m.String(tc.in); got != tc.want {
			t.Errorf("%q in %q: got %q, want %q", tc.secrets, tc.in, got, tc.want)
		}
		for i := range len(tc.in) {
			if got := writeChunks(t, m, tc.in, i, 1); got != tc.want {
				t.Errorf("%q in %q split at %d: got %q", tc.secrets, tc.in, i, got)
			}
		}
	}
}

// Bytes that cannot start a secret are passed on before Write returns, and
// no more than longest−1 bytes are ever held.
func TestHoldBack(t *testing.T) {
	m := masker("world!", "wonder")
	var b bytes.Buffer
	w := m.Writer(&b).(*writer)
	step := func(in, out string, held int) {
		t.Helper()
		if _, err := io.WriteString(w, in); err != nil {
			t.Fatal(err)
		}
		if b.String() != out || w.heldBack() != held {
			t.Fatalf("after %q: out %q, held %d; want %q, %d", in, b.String(), w.heldBack(), out, held)
		}
	}
	step("hello wor", "hello ", 3)
	step("ld", "hello ", 5)
	step("!\n", "hello [MASKED]\n", 0)
	step("wonde", "hello [MASKED]\n", 5)
	step("x", "hello [MASKED]\nwondex", 0)
	step("wo", "hello [MASKED]\nwondex", 2)
	if err := w.Close(); err != nil || b.String() != "hello [MASKED]\nwondexwo" {
		t.Fatalf("Close: %v, %q", err, b.String())
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNoSecretsPassThrough(t *testing.T) {
	var b bytes.Buffer
	for _, m := range []*Masker{nil, NewMasker(nil), masker("x")} {
		b.Reset()
		w := m.Writer(&b)
		if _, ok := w.(*passThrough); !ok {
			t.Fatalf("Writer is %T, want *passThrough", w)
		}
		if n, err := w.Write([]byte("abc")); n != 3 || err != nil || b.String() != "abc" {
			t.Errorf("Write = %d, %v, %q", n, err, b.String())
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		if got := m.String("abc"); got != "abc" {
			t.Errorf("String = %q", got)
		}
	}
}

type failWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, f.err
}

func TestUnderlyingErrors(t *testing.T) {
	boom := errors.New("boom")
	w := masker("hunter2").Writer(&failWriter{n: 3, err: boom})
	if n, err := w.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("first Write = %d, %v", n, err)
	}
	if n, err := w.Write([]byte("defg")); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("failing Write = %d, %v", n, err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, boom) {
		t.Errorf("error is not sticky: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v", err)
	}

	// A short write without an error is an error too.
	w = masker("hunter2").Writer(&failWriter{n: 2})
	if _, err := w.Write([]byte("abcdef")); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("short write: %v", err)
	}

	// The held-back tail fails on Close.
	w = masker("hunter2").Writer(&failWriter{n: 1, err: boom})
	if _, err := w.Write([]byte("hu")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v", err)
	}
}

func TestLargeWrite(t *testing.T) {
	m := masker("hunter2")
	in := strings.Repeat("x", 3*flushSize+5) + "hunter2" + strings.Repeat("y", flushSize)
	want := strings.Repeat("x", 3*flushSize+5) + Mask + strings.Repeat("y", flushSize)
	if got := writeChunks(t, m, in); got != want {
		t.Error("large write mismatch")
	}
	var sizes []int
	w := m.Writer(writerFunc(func(p []byte) (int, error) {
		sizes = append(sizes, len(p))
		return len(p), nil
	}))
	_, _ = io.WriteString(w, in)
	if slices.Max(sizes) > flushSize {
		t.Errorf("underlying writes of %v bytes, want ≤ %d", sizes, flushSize)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A stream dense with matches does not grow the candidate list unboundedly.
func TestDenseMatches(t *testing.T) {
	m := masker("aaa", "aaaaaaaa")
	in := strings.Repeat("a", 100_003)
	want := strings.Repeat(Mask, 12_500) + Mask
	if got := writeChunks(t, m, in, 7, 50_000); got != want {
		t.Errorf("got %d bytes, want %d", len(got), len(want))
	}
	w := m.Writer(io.Discard).(*writer)
	_, _ = io.WriteString(w, in)
	if cap(w.cands) > 2*(w.a.maxLen+64) {
		t.Errorf("cands grew to %d", cap(w.cands))
	}
}

// Secrets large enough that most states have no DFA row exercise the
// failure-link path.
func TestSparseStates(t *testing.T) {
	key := strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n", 120)
	m := masker(key, "hunter2")
	if m.a.nDense >= int32(len(m.a.depth)) {
		t.Fatalf("all %d states are dense", len(m.a.depth))
	}
	in := "x" + base64.StdEncoding.EncodeToString([]byte(key)) + " hunter2 " + key[:len(key)-1] + "|" + hex.EncodeToString([]byte(key))
	want := "x" + Mask + " " + Mask + " " + Mask + "|" + Mask
	if got := writeChunks(t, m, in, 100, 1000, 1); got != want {
		t.Errorf("got %.200q", got)
	}
}

// Steady-state Write does not allocate.
func TestWriteAllocs(t *testing.T) {
	m := masker("hunter2", "swordfish", "correct horse battery staple")
	chunk := []byte(strings.Repeat("log line with hunter2 and swordf", 100))
	w := m.Writer(io.Discard)
	for range 10 {
		_, _ = w.Write(chunk)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = w.Write(chunk) }); n != 0 {
		t.Errorf("Write allocates %.1f times", n)
	}
}

// One Masker serves many streams at once (stdout and stderr of each job).
func TestConcurrentWriters(t *testing.T) {
	m := masker("hunter2", "swordfish")
	in := strings.Repeat("a hunter2 b swordfish c ", 1000)
	want := m.String(in)
	done := make(chan string)
	for i := range 4 {
		go func() {
			var b bytes.Buffer
			w := m.Writer(&b)
			for rest := in; rest != ""; {
				n := min(len(rest), 1+i*7)
				_, _ = io.WriteString(w, rest[:n])
				rest = rest[n:]
			}
			_ = w.Close()
			done <- b.String()
		}()
	}
	for range 4 {
		if got := <-done; got != want {
			t.Error("concurrent writer output differs")
		}
	}
}
