package secret

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// Mask replaces every masked occurrence. "[MASKED]" is what GitLab prints, so
// users recognise it; it is greppable and, unlike a run of '*' as long as the
// value, does not reveal the secret's length.
const Mask = "[MASKED]"

// MinLen is the shortest value (in characters) that is masked. Masking
// one- and two-character values ("1", "no", "ok") would shred every log
// line; such secrets are reported by Skipped instead.
const MinLen = 3

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("secret: write to closed masking writer")

// Masker masks a fixed set of secrets. It is immutable and safe for
// concurrent use; each Writer it makes is for one stream and is not.
type Masker struct {
	a       *automaton // nil: nothing to mask
	skipped []string
	token   []byte
}

// NewMasker builds a masker for the given secrets (name → value). The names
// are only used to report values too short to mask (see Skipped).
//
// Besides each value, it masks (only where they differ from the value):
//   - every line of a multi-line value, trimmed of "\r", spaces and tabs, so
//     a PEM key printed line by line or re-indented is still caught;
//   - the base64 encodings (standard and URL alphabets, with and without
//     padding) and their alignment-stable cores (see b64core);
//   - the URL query- and path-escaped forms (secrets in URLs, curl -v),
//     every byte as %XX, and encodeURIComponent's form;
//   - hex, lower and upper case (xxd -p, Go's %x and %X, Python's .hex());
//   - the JSON string form (docker inspect, jq, printed configs), which
//     escapes quotes, backslashes and control characters.
//
// All of them are matched across line breaks and ANSI escape sequences
// (see lex.go): `base64` wrapping at any width, `fold -w1`, CRLF from a
// tty, colour codes between characters. The value's own line breaks and
// escape sequences are left out of the patterns the same way.
//
// Encodings are of the whole value only: they are what tools actually print
// (`base64 < key.pem`, a URL with a token), and each one adds about as many
// automaton states as the value itself.
//
// Every pattern, derived ones included, must have at least MinLen
// characters. Where patterns overlap, the leftmost match wins and among
// matches starting at the same byte the longest wins.
func NewMasker(secrets map[string]string) *Masker {
	m := &Masker{token: []byte(Mask)}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	var vals []string
	for _, name := range names {
		v := secrets[name]
		// A value that is short once line breaks and escapes are left out
		// is not masked itself, but its encodings may be.
		if utf8.RuneCountInString(visible(v)) < MinLen {
			m.skipped = append(m.skipped, name)
		}
		if utf8.RuneCountInString(v) >= MinLen {
			vals = append(vals, v)
		}
	}
	if pats := patterns(vals); len(pats) > 0 {
		m.a = newAutomaton(pats)
	}
	return m
}

// Skipped returns the names (sorted) of secrets whose values are too short
// to be masked, so the runner can warn "secret X is too short to be masked"
// without printing X's value.
func (m *Masker) Skipped() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.skipped...)
}

// patterns expands the values into the sorted, de-duplicated byte strings
// that are masked.
func patterns(values []string) []string {
	seen := make(map[string]bool)
	var pats []string
	add := func(p string) {
		if utf8.RuneCountInString(p) >= MinLen && !seen[p] {
			seen[p] = true
			pats = append(pats, p)
		}
	}
	for _, v := range values {
		add(visible(v))
		for _, line := range strings.Split(v, "\n") {
			add(visible(strings.Trim(line, " \t\r")))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			add(enc.EncodeToString([]byte(v)))
			raw := enc.WithPadding(base64.NoPadding)
			add(raw.EncodeToString([]byte(v)))
			for a := range 3 {
				add(b64core(raw, v, a))
			}
		}
		add(hex.EncodeToString([]byte(v)))
		add(strings.ToUpper(hex.EncodeToString([]byte(v))))
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		add(percentEscape(v, func(byte) bool { return false }))
		add(percentEscape(v, uriComponentSafe))
		add(jsonString(v))
	}
	sort.Strings(pats)
	return pats
}

// b64core returns the part of the base64 encoding of v that is the same
// wherever v sits in a larger encoded blob, given it starts at byte offset
// a (mod 3) of that blob (`echo $TOKEN | base64`, a .dockerconfigjson's
// "user:password" auth field, a base64'd config file containing the value).
// Each output character carries 6 bits; a character is stable only if all 6
// come from v, so the characters that share bits with the neighbouring bytes
// are cut off at both ends. For a = 0 this is a prefix of the plain
// encoding; a = 1 and a = 2 give unrelated strings that must be added too.
func b64core(raw *base64.Encoding, v string, a int) string {
	s := raw.EncodeToString(append(make([]byte, a, a+len(v)), v...))
	lo := (8*a + 5) / 6        // first character without bits of the a leading bytes
	hi := 8 * (a + len(v)) / 6 // end of the last character made only of v's bits
	return s[lo:hi]
}

// percentEscape is v with every byte that keep does not accept written as
// %XX (upper case, as RFC 3986 recommends and encodeURIComponent, Python's
// quote and curl --data-urlencode write it).
func percentEscape(v string, keep func(byte) bool) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; keep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', digits[c>>4], digits[c&15])
		}
	}
	return string(b)
}

// uriComponentSafe is what JavaScript's encodeURIComponent leaves as it is.
func uriComponentSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0
}

// jsonString is v as the inside of a JSON string literal.
func jsonString(v string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // cannot fail for a string
	s := b.String()   // "\"...\"\n"
	return s[1 : len(s)-2]
}

// String masks a whole string (runner messages, error texts).
func (m *Masker) String(s string) string {
	if m == nil || m.a == nil {
		return s
	}
	var b strings.Builder
	w := m.Writer(&b)
	_, _ = io.WriteString(w, s) // a strings.Builder does not fail
	_ = w.Close()
	return b.String()
}

// Writer returns a writer that masks the stream written to it and passes it
// on to w. It holds back at most (longest pattern − 1) visible bytes and the
// hidden bytes among them, and only while they could still be the start of
// a secret (so a line that ends in what could begin a secret waits for the
// next byte); everything else is passed on
// before Write returns, so logs stay live. Close flushes the held-back tail;
// it does not close w. With nothing to mask it is a plain pass-through.
//
// Once w fails, the error is returned by that and every later Write (the
// masking state no longer matches what w received), with n = 0.
func (m *Masker) Writer(w io.Writer) io.WriteCloser {
	if m == nil || m.a == nil {
		return &passThrough{w: w}
	}
	return &writer{
		a:     m.a,
		token: m.token,
		w:     w,
		held:  make([]byte, 0, m.a.maxLen),
	}
}

type passThrough struct {
	w      io.Writer
	closed bool
}

func (p *passThrough) Write(b []byte) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	return p.w.Write(b)
}

func (p *passThrough) Close() error { p.closed = true; return nil }

// flushSize bounds the output buffer: a large Write is passed on in pieces
// of this size instead of growing the buffer to its size.
const flushSize = 32 << 10

// span is a match [start, end) in stream offsets.
type span struct{ start, end int64 }

// writer masks one stream.
//
// Stream offsets: bytes before pos have been passed on; bytes [pos, end)
// are held back. The automaton reports matches by their end; the match to
// mask at a position is the longest one starting there, and it is known
// once no pattern starting at or before that position can still be in
// progress, i.e. before end − live[state]. Candidate matches wait in cands
// until then (see record). Because ordinary text yields no candidates,
// resolving is one bulk copy per Write, not per byte.
type writer struct {
	a     *automaton
	token []byte
	w     io.Writer

	st       int32
	pos, end int64
	held     []byte // stream bytes [heldAt, base): the tail kept from earlier Writes
	heldAt   int64
	p        []byte // the current Write's data, at stream offset base
	base     int64
	cands    []span
	lex      uint8  // lexer state at end
	runs     []span // hidden runs inside the match in progress, from runs[rh]
	rh       int
	gaps     int64 // bytes in runs[rh:]
	out      []byte
	err      error
	closed   bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	a := w.a
	w.p, w.base = p, w.end
	// The loop keeps the row offset x = st<<shift for dense states, and
	// reads the automaton through locals: record may run in the loop, so
	// fields of a would otherwise be reloaded on every byte.
	dense, cls, shift, limit, tc := a.dense, &a.cls, a.shift, a.nDense<<a.shift, a.tc
	st, i := w.st, 0
	if w.lex != lexText { // an escape sequence continues from the last Write
		i, st = w.gap(0, st)
	}
	x := st << shift
	for ; i < len(p); i++ {
		c := cls[p[i]]
		if x < limit {
			x = dense[x+int32(c)]
			if x >= 0 {
				continue // the common case: no pattern ends here
			}
			x = ^x
			st = x >> shift
		} else if c < tc {
			st = a.next(x>>shift, p[i])
			if x = st << shift; a.out[st] < 0 {
				continue
			}
		}
		if c >= tc { // a hidden run: the automaton stays where it is
			var j int
			j, st = w.gap(i, x>>shift)
			x, i = st<<shift, j-1
			continue
		}
		w.record(st, w.base+int64(i)+1)
	}
	st = x >> shift
	w.st, w.end = st, w.base+int64(len(p))
	w.resolve(w.startOf(w.end, a.live[st]))
	w.keepTail()
	w.flush()
	w.p = nil
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// gap skips the hidden bytes from p[i] on (at least p[i] itself) and
// returns the index of the first byte after them and the state to go on
// in. In the middle of a possible match (st ≠ 0) the run is remembered, so
// that a match's start can be found in the stream (see startOf); at the
// root nothing is in progress and nothing needs remembering.
func (w *writer) gap(i int, st int32) (int, int32) {
	j := i
	for ; j < len(w.p); j++ {
		next, hidden := lexStep(w.lex, w.p[j])
		w.lex = next
		if !hidden {
			break
		}
	}
	if st != 0 && j > i {
		st = w.addRun(span{w.base + int64(i), w.base + int64(j)}, st)
	}
	return j, st
}

// addRun records a hidden run seen in state st and drops the runs before
// the match in progress: every match found later starts no earlier than the
// depth[st] visible bytes before it. A match in progress interleaved with
// more than maxGap hidden bytes is given up (the automaton restarts at the
// root), which bounds what is held back at maxLen−1+maxGap bytes.
func (w *writer) addRun(r span, st int32) int32 {
	w.runs = append(w.runs, r)
	w.gaps += r.end - r.start
	d := int64(w.a.depth[st])
	for ; w.rh < len(w.runs); w.rh++ {
		f := w.runs[w.rh]
		n := f.end - f.start
		if (r.end-f.end)-(w.gaps-n) < d { // visible bytes after f
			break
		}
		w.gaps -= n
	}
	if w.gaps > int64(w.a.maxGap) {
		w.rh, w.gaps, st = len(w.runs), 0, 0
	}
	if w.rh == len(w.runs) || w.rh > 64 && 2*w.rh > len(w.runs) {
		w.runs = w.runs[:copy(w.runs, w.runs[w.rh:])]
		w.rh = 0
	}
	return st
}

// startOf is the stream offset where the last n visible bytes before
// stream offset e begin.
func (w *writer) startOf(e int64, n int32) int64 {
	s := e - int64(n)
	for i := len(w.runs) - 1; i >= w.rh && w.runs[i].end > s; i-- {
		s -= w.runs[i].end - w.runs[i].start
	}
	return s
}

// Close passes on the held-back tail, masked: at the end of the stream no
// match is in progress any more.
func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	w.p, w.base = nil, w.end
	w.resolve(w.end)
	w.flush()
	return w.err
}

// record takes the matches that end at stream offset e in state st,
// longest (leftmost) first. Candidates are kept disjoint and sorted, which
// makes each report O(1) amortized and the writer linear in the input plus
// the number of occurrences, as Aho–Corasick itself. Matches are reported
// in order of their end, so a new one ends no earlier than any candidate:
//   - if it starts strictly inside a candidate it can never be masked: if
//     that candidate is masked it covers the match, and whatever could
//     cover the candidate's start instead is reported later, so ends later
//     and covers the match too;
//   - otherwise it covers every candidate starting at or after its start
//     and replaces them; the shorter matches still to come on the chain
//     start inside it, so the walk stops.
func (w *writer) record(st int32, e int64) {
	a := w.a
	j := -1 // first candidate that ends after s
	for t := a.out[st]; t >= 0; t = a.out[a.fail[t]] {
		s := w.startOf(e, a.depth[t])
		if s < w.pos {
			continue // inside what has been passed on or masked already
		}
		if j < 0 {
			j = len(w.cands)
			for j > 0 && w.cands[j-1].end > s {
				j--
			}
		}
		for j < len(w.cands) && w.cands[j].end <= s {
			j++
		}
		if j < len(w.cands) && w.cands[j].start < s {
			continue
		}
		w.cands = append(w.cands[:j], span{s, e})
		break
	}
	// Text dense with matches must not grow cands without bound: resolve
	// what is final already, which leaves fewer than maxLen/MinLen.
	if len(w.cands) >= w.a.maxLen+64 {
		w.resolve(w.startOf(e, a.live[st]))
	}
}

// resolve passes on everything before offset f, which is final: no match
// starting there can still grow. Candidates are disjoint and start at or
// after pos, so each one before f is masked in turn.
func (w *writer) resolve(f int64) {
	i := 0
	for ; i < len(w.cands) && w.cands[i].start < f; i++ {
		c := w.cands[i]
		w.emit(w.pos, c.start)
		w.put(w.token)
		w.pos = c.end
	}
	w.cands = w.cands[:copy(w.cands, w.cands[i:])]
	if w.pos < f {
		w.emit(w.pos, f)
		w.pos = f
	}
}

// emit passes on stream bytes [x, y), which lie in held and/or p.
func (w *writer) emit(x, y int64) {
	if x < w.base {
		w.put(w.held[x-w.heldAt : min(y, w.base)-w.heldAt])
		x = w.base
	}
	if x < y {
		w.put(w.p[x-w.base : y-w.base])
	}
}

// keepTail copies the held-back bytes [pos, end) into held, because p
// belongs to the caller once Write returns.
func (w *writer) keepTail() {
	h := w.held[:0]
	if w.pos < w.base {
		h = w.held[:copy(w.held, w.held[w.pos-w.heldAt:])]
	}
	w.held = append(h, w.p[max(w.pos, w.base)-w.base:]...)
	w.heldAt = w.pos
}

func (w *writer) put(b []byte) {
	for len(b) > 0 && w.err == nil {
		if len(w.out) >= flushSize {
			w.flush()
			continue
		}
		n := min(len(b), flushSize-len(w.out))
		w.out = append(w.out, b[:n]...)
		b = b[n:]
	}
}

func (w *writer) flush() {
	if len(w.out) == 0 || w.err != nil {
		return
	}
	n, err := w.w.Write(w.out)
	if err == nil && n < len(w.out) {
		err = io.ErrShortWrite
	}
	w.out, w.err = w.out[:0], err
}

// heldBack is the number of bytes written but not yet passed on (for tests).
func (w *writer) heldBack() int { return int(w.end - w.pos) }
