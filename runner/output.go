package runner

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// console serialises writes of concurrent jobs to one output. A job's
// stream either passes straight through (one job at a time: no copy, no
// buffering) or is cut into whole lines, each prefixed with the job name,
// so lines of concurrent jobs never interleave mid-line.
type console struct {
	mu  sync.Mutex
	out io.Writer
	// mask hides secrets in runner messages; job output is masked by a
	// streaming writer before it gets here.
	mask func(string) string
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

// printf writes one runner message line, secrets masked.
func (c *console) printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.mask != nil {
		msg = c.mask(msg)
	}
	_, _ = io.WriteString(c, msg+"\n")
}

// maxLine bounds what a prefixed stream holds back: a longer line is
// written in pieces, so memory stays flat whatever a job prints.
const maxLine = 64 << 10

// prefixWriter prefixes every line with a job's name.
type prefixWriter struct {
	c      *console
	prefix []byte
	buf    []byte
}

func newPrefixWriter(c *console, name string) *prefixWriter {
	return &prefixWriter{c: c, prefix: []byte("[" + name + "] ")}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				w.flushLine(false)
			}
			break
		}
		w.buf = append(w.buf, p[:i+1]...)
		p = p[i+1:]
		w.flushLine(true)
	}
	return n, nil
}

func (w *prefixWriter) flushLine(complete bool) {
	line := append(append([]byte{}, w.prefix...), w.buf...)
	if !complete {
		line = append(line, '\n')
	}
	_, _ = w.c.Write(line)
	w.buf = w.buf[:0]
}

// Close writes a last line that did not end in a newline.
func (w *prefixWriter) Close() error {
	if len(w.buf) > 0 {
		w.flushLine(false)
	}
	return nil
}
