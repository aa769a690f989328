package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/store"
)

// droneLogRead is how much of a log getLog reads at a time: the log is
// never whole in memory (a 50 MiB log once took 600 MiB as one []byte,
// its lines as strings and their JSON).
const droneLogRead = 256 << 10

// getLog answers a job's log as Drone's lines (drone log view): a JSON
// array of {"pos","out","time"}, one entry per line with its newline,
// encoded as the log is read.
func (s *Server) getLog(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	job, err := s.stageJob(r, repo)
	if err != nil {
		httpError(w, err)
		return
	}
	// The first read before the header: a store error is still an answer.
	data, err := s.st.ReadLog(r.Context(), job.ID, 0, droneLogRead)
	if err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := newLineEncoder(w)
	for offset := int64(0); len(data) > 0; {
		offset += int64(len(data))
		enc.Write(data)
		if data, err = s.st.ReadLog(r.Context(), job.ID, offset, droneLogRead); err != nil {
			// Too late for a status: a cut array fails the client's decoding.
			fmt.Fprintf(s.opts.Log, "slipway server: drone log of job %d: %v\n", job.ID, err)
			return
		}
	}
	enc.Close()
}

// lineEncoder writes a log as Drone's JSON lines in the bytes that
// encoding/json writes for []droneLine{{Pos, Out, 0}…} followed by a
// newline, as the log comes, holding no more than a character of it.
type lineEncoder struct {
	w    *bufio.Writer
	pos  int    // the current line's number
	open bool   // in the middle of a line's "out" string
	hold []byte // the start of a character cut by the read
	err  error
}

func newLineEncoder(w io.Writer) *lineEncoder {
	e := &lineEncoder{w: bufio.NewWriterSize(w, 64<<10)}
	e.w.WriteByte('[')
	return e
}

// Write encodes the next bytes of the log.
func (e *lineEncoder) Write(data []byte) (int, error) {
	n := len(data)
	if len(e.hold) > 0 {
		data = append(e.hold, data...)
		e.hold = nil
	}
	for len(data) > 0 {
		e.openLine()
		end := bytes.IndexByte(data, '\n') + 1
		if end == 0 {
			// A newline is never inside a character: a cut there is safe,
			// elsewhere it waits for the rest of the character.
			cut := live.WholeRunes(data, false)
			e.out(data[:cut])
			e.hold = append([]byte(nil), data[cut:]...)
			break
		}
		e.out(data[:end])
		e.closeLine()
		data = data[end:]
	}
	return n, e.err
}

// Close ends the array (a last line without a newline is a line).
func (e *lineEncoder) Close() error {
	if len(e.hold) > 0 {
		e.out(e.hold) // not a whole character: encoding/json's U+FFFD
		e.hold = nil
	}
	if e.open {
		e.closeLine()
	}
	e.w.WriteString("]\n")
	if err := e.w.Flush(); e.err == nil {
		e.err = err
	}
	return e.err
}

func (e *lineEncoder) openLine() {
	if e.open {
		return
	}
	if e.pos > 0 {
		e.w.WriteByte(',')
	}
	e.w.WriteString(`{"pos":` + strconv.Itoa(e.pos) + `,"out":"`)
	e.open = true
}

func (e *lineEncoder) closeLine() {
	e.w.WriteString(`","time":0}`)
	e.open = false
	e.pos++
}

// out writes part of a line as the inside of a JSON string: whole
// characters encode alike alone or in a longer string.
func (e *lineEncoder) out(part []byte) {
	js, err := json.Marshal(string(part))
	if err != nil {
		e.err = err
		return
	}
	if _, err := e.w.Write(js[1 : len(js)-1]); err != nil && e.err == nil {
		e.err = err
	}
}
