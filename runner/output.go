package runner

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// Printer shows a run on a terminal or in a file: the runner's lines as
// they come, each job's output as it comes; when jobs run at once, every
// line of a job is prefixed with its name, so lines of concurrent jobs
// never interleave mid-line.
type Printer struct {
	mu   sync.Mutex
	out  io.Writer
	jobs map[string]*prefixWriter // jobs whose lines are prefixed
}

// NewPrinter prints to out.
func NewPrinter(out io.Writer) *Printer {
	return &Printer{out: out, jobs: map[string]*prefixWriter{}}
}

// write serialises writes of concurrent jobs.
func (p *Printer) write(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.out.Write(b)
}

func (p *Printer) line(s string) { p.write([]byte(s + "\n")) }

func (p *Printer) Message(_, line string) { p.line(line) }

func (p *Printer) JobStarted(j JobStart) {
	if j.Concurrent {
		p.mu.Lock()
		p.jobs[j.Name] = newPrefixWriter(p, j.Name)
		p.mu.Unlock()
	}
	p.line(fmt.Sprintf("Running job %q in %s", j.Name, j.Images))
}

// StepStarted prints nothing: a step's script echoes its own commands.
func (p *Printer) StepStarted(_, _ string) {}

func (p *Printer) Output(job string, b []byte) {
	if pw := p.prefixed(job); pw != nil {
		_, _ = pw.Write(b)
		return
	}
	p.write(b)
}

func (p *Printer) ServiceOutput(job, service string, b []byte) {
	// A service's lines are always prefixed: they interleave with the
	// job's own. One writer per service keeps its partial lines apart.
	key := job + "/" + service
	p.mu.Lock()
	pw := p.jobs[key]
	if pw == nil {
		pw = newPrefixWriter(p, key)
		p.jobs[key] = pw
	}
	p.mu.Unlock()
	_, _ = pw.Write(b)
}

func (p *Printer) ServiceWarning(job, _, text string) { p.Output(job, []byte(text+"\n")) }

func (p *Printer) JobFinished(res JobResult) {
	p.mu.Lock()
	var open []*prefixWriter
	for key, pw := range p.jobs {
		if key == res.Name || len(key) > len(res.Name) && key[:len(res.Name)+1] == res.Name+"/" {
			open = append(open, pw)
			delete(p.jobs, key)
		}
	}
	p.mu.Unlock()
	for _, pw := range open {
		_ = pw.Close() // the job's last bytes come before its status line
	}
	d := res.Duration.Round(10 * time.Millisecond)
	if res.Status == Passed {
		p.line(fmt.Sprintf("Job %q passed in %s", res.Name, d))
		return
	}
	p.line(fmt.Sprintf("Job %q %s in %s: %s", res.Name, res.Status, d, res.Reason))
}

func (p *Printer) prefixed(job string) *prefixWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs[job]
}

// maxLine bounds what a prefixed stream holds back: a longer line is
// written in pieces, so memory stays flat whatever a job prints.
const maxLine = 64 << 10

// prefixWriter prefixes every line of one stream with a name.
type prefixWriter struct {
	p      *Printer
	prefix []byte
	buf    []byte
}

func newPrefixWriter(p *Printer, name string) *prefixWriter {
	return &prefixWriter{p: p, prefix: []byte("[" + name + "] ")}
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxLine {
				w.flushLine(false)
			}
			break
		}
		w.buf = append(w.buf, b[:i+1]...)
		b = b[i+1:]
		w.flushLine(true)
	}
	return n, nil
}

func (w *prefixWriter) flushLine(complete bool) {
	line := append(append([]byte{}, w.prefix...), w.buf...)
	if !complete {
		line = append(line, '\n')
	}
	w.p.write(line)
	w.buf = w.buf[:0]
}

// Close writes a last line that did not end in a newline.
func (w *prefixWriter) Close() error {
	if len(w.buf) > 0 {
		w.flushLine(false)
	}
	return nil
}
