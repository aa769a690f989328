package agent

import (
	"bufio"
	"io"
	"os"
)

// spool holds a job's log: in a temporary file, so that the runner's
// memory does not grow with the log; in memory only when no temporary
// file can be made (a full or read-only TMPDIR), which is still correct.
type spool struct {
	f *os.File
	// w buffers writes: a job's output comes a line at a time, and a
	// write call per line would cost more than the job's own printing.
	w   *bufio.Writer
	mem []byte
	err error // the first write error of the file
}

func newSpool() *spool {
	f, err := os.CreateTemp("", "slipway-trace-")
	if err != nil {
		return &spool{}
	}
	// Unlinked at once: the file goes with the process however it ends.
	_ = os.Remove(f.Name())
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}
}

func (s *spool) write(p []byte) {
	if s.f == nil {
		s.mem = append(s.mem, p...)
		return
	}
	if _, err := s.w.Write(p); err != nil && s.err == nil {
		s.err = err
	}
}

// readAt reads len(p) bytes at off (all of them are there: the caller
// asks only for what was written).
func (s *spool) readAt(p []byte, off int) (int, error) {
	if s.f == nil {
		return copy(p, s.mem[min(off, len(s.mem)):]), nil
	}
	if err := s.w.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.f.ReadAt(p, int64(off))
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.mem = nil
}
