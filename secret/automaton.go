package secret

import "math"

// automaton is an Aho–Corasick matcher over a fixed set of byte patterns.
//
// States are numbered in breadth-first order, so a state's failure link
// always has a smaller number and the shallow states (the only ones ordinary
// log text ever visits) come first. Those first nDense states get a full DFA
// row (one table lookup per byte); deeper states keep only their trie edges
// and fall back along failure links. That bounds the table at denseBudget
// entries even for multi-KiB secrets (an RSA-4096 PEM key plus its
// encodings is ~35k states, ~18 MB as a full DFA), while text that is not
// a secret still costs one lookup per byte. Scanning stays linear: each
// failure step undoes at least one byte of depth gained earlier.
type automaton struct {
	cls [256]uint8 // byte → column; all bytes that occur in no pattern share one
	// tc and tc+1, the last two columns, are those of the hidden bytes
	// (see lex.go): "\r" and "\n", then ESC. From a state s ≠ 0 they lead
	// to ^(s<<shift): to s itself through the writer's slow path, which
	// skips the hidden run without moving the automaton. From the root,
	// ESC does the same (the lexer must see it) and a line break stays at
	// the root on the fast path.
	tc     uint8
	shift  uint  // rows are 1<<shift wide, so a row offset is state<<shift
	nDense int32 // states [0, nDense) have a DFA row
	// dense[s<<shift+cls[c]] is the transition from s < nDense on byte c,
	// stored as the next state's row offset (next<<shift, which saves a
	// multiply in the per-byte dependency chain), bit-complemented
	// (negative) when a pattern ends in that state, so the hot loop learns
	// "no match here" from the same load.
	dense []int32

	// Trie edges of state s: edgeByte/edgeTo[first[s]:first[s+1]].
	first    []int32
	edgeByte []byte
	edgeTo   []int32

	fail  []int32 // longest proper suffix of s that is also a state
	out   []int32 // s if a pattern ends at s, else out[fail[s]]; -1 if none
	depth []int32
	// live[s] is the depth of the deepest state on s's suffix chain that
	// still has children: only that many trailing bytes can grow into a
	// match, everything before them is final.
	live   []int32
	maxLen int
	// maxGap is the most hidden bytes a match may be interleaved with:
	// enough for a value printed by `fold -w1` through a tty ("\r\n" after
	// every byte) or coloured every few characters.
	maxGap int
}

// denseBudget caps the DFA table at 1 MiB of int32.
const denseBudget = 1 << 18

// newAutomaton builds the matcher; patterns must be non-empty.
func newAutomaton(patterns []string) *automaton {
	a := &automaton{}

	// Byte columns: one per byte used in a pattern, plus one shared by all
	// the others (they always lead back to the root).
	var used [256]bool
	for _, p := range patterns {
		a.maxLen = max(a.maxLen, len(p))
		for i := 0; i < len(p); i++ {
			used[p[i]] = !hiddenByte(p[i]) // patterns hold no hidden byte (see visible)
		}
	}
	var rep []byte // a representative byte per column
	unused := false
	for b := range 256 {
		if used[b] {
			a.cls[b] = uint8(len(rep))
			rep = append(rep, byte(b))
		} else {
			unused = unused || !hiddenByte(byte(b))
		}
	}
	ncls := len(rep)
	if unused { // the column of unused bytes: all zero, i.e. the root
		for b := range 256 {
			if !used[b] {
				a.cls[b] = uint8(ncls)
			}
		}
		ncls++
	}
	a.tc = uint8(ncls)
	a.cls['\r'], a.cls['\n'], a.cls[0x1b] = a.tc, a.tc, a.tc+1
	ncls += 2

	a.maxGap = 4*a.maxLen + 256

	// Plain trie, numbered in insertion order.
	type edge struct {
		b  byte
		to int32
	}
	kids := [][]edge{nil}
	term := []bool{false}
	for _, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			t := int32(-1)
			for _, e := range kids[s] {
				if e.b == p[i] {
					t = e.to
					break
				}
			}
			if t < 0 {
				t = int32(len(kids))
				kids = append(kids, nil)
				term = append(term, false)
				kids[s] = append(kids[s], edge{p[i], t})
			}
			s = t
		}
		term[s] = true
	}

	// Renumber breadth-first and lay the edges out flat.
	n := len(kids)
	order := make([]int32, 1, n) // new number → old number
	id := make([]int32, n)       // old number → new number
	a.first = make([]int32, n+1)
	a.depth = make([]int32, n)
	for s := 0; s < len(order); s++ {
		a.first[s] = int32(len(a.edgeTo))
		for _, e := range kids[order[s]] {
			id[e.to] = int32(len(order))
			order = append(order, e.to)
			a.edgeByte = append(a.edgeByte, e.b)
			a.edgeTo = append(a.edgeTo, id[e.to])
			a.depth[id[e.to]] = a.depth[s] + 1
		}
	}
	a.first[n] = int32(len(a.edgeTo))

	// Failure links, outputs and live depths, parents before children.
	a.fail = make([]int32, n)
	a.out = make([]int32, n)
	a.live = make([]int32, n)
	a.out[0] = -1
	for s := int32(0); s < int32(n); s++ {
		for i := a.first[s]; i < a.first[s+1]; i++ {
			t, b := a.edgeTo[i], a.edgeByte[i]
			if s != 0 {
				f := a.fail[s]
				for a.child(f, b) < 0 && f != 0 {
					f = a.fail[f]
				}
				if c := a.child(f, b); c >= 0 {
					a.fail[t] = c
				}
			}
		}
		if s == 0 {
			continue
		}
		a.out[s] = a.out[a.fail[s]]
		if term[order[s]] {
			a.out[s] = s
		}
		a.live[s] = a.live[a.fail[s]]
		if a.first[s] < a.first[s+1] {
			a.live[s] = a.depth[s]
		}
	}

	// DFA rows for the shallowest states. fail[s] < s, so its row is ready.
	for 1<<a.shift < ncls {
		a.shift++
	}
	if int64(n)<<a.shift > math.MaxInt32 {
		// Over 8M states: hundreds of MiB of automaton, from ~0.5 MiB of
		// secret material. Not a real secret set; fail loudly rather than
		// overflow the row offsets.
		panic("secret: secrets too large to mask")
	}
	a.nDense = int32(min(n, max(1, denseBudget>>a.shift)))
	a.dense = make([]int32, int(a.nDense)<<a.shift)
	for s := int32(0); s < a.nDense; s++ {
		row := a.dense[s<<a.shift : (s+1)<<a.shift]
		for k, b := range rep {
			t := a.child(s, b)
			if t < 0 {
				t = 0
				if s != 0 {
					t = a.denseNext(a.fail[s], b)
				}
			}
			row[k] = t << a.shift
			if a.out[t] >= 0 {
				row[k] = ^row[k]
			}
		}
		row[a.tc+1] = ^(s << a.shift)
		if s != 0 {
			row[a.tc] = row[a.tc+1]
		}
	}
	return a
}

// child is the trie edge from s on b, or -1.
func (a *automaton) child(s int32, b byte) int32 {
	for i := a.first[s]; i < a.first[s+1]; i++ {
		if a.edgeByte[i] == b {
			return a.edgeTo[i]
		}
	}
	return -1
}

// next is the transition from a state without a DFA row.
func (a *automaton) next(s int32, b byte) int32 {
	for s >= a.nDense {
		if t := a.child(s, b); t >= 0 {
			return t
		}
		s = a.fail[s]
	}
	return a.denseNext(s, b)
}

// denseNext is the transition from s < nDense.
func (a *automaton) denseNext(s int32, b byte) int32 {
	t := a.dense[s<<a.shift+int32(a.cls[b])]
	if t < 0 {
		t = ^t
	}
	return t >> a.shift
}
