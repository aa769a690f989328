package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// logWindow is how much of a log's end a page shows first: a 100,000-line
// log opens as fast as a short one, and "show earlier" pages back.
const logWindow = 32 << 10

type logLine struct {
	N    int
	HTML template.HTML // ansiLines escapes the text
}

type logData struct {
	page
	Repo    store.Repo
	Path    string
	Build   store.Build
	Job     store.Job
	Lines   []logLine
	Last    int // the number of the last line shown
	Earlier int // offset of the previous window; -1 when the start is shown
	Offset  int64
	Running bool
	Stream  string
}

func (h *Handler) jobLog(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	job, b, err := h.repoJob(r, repo)
	var data []byte
	if err == nil {
		data, err = h.opts.Store.ReadLog(r.Context(), job.ID, 0, 0)
	}
	if err != nil {
		h.problem(w, r, err)
		return
	}
	end := len(data)
	if !job.Status.Done() {
		// A running job's last line may be half written; the stream
		// sends it whole.
		end = bytes.LastIndexByte(data, '\n') + 1
	}
	start := end - logWindow
	if from, err := strconv.Atoi(r.FormValue("from")); err == nil {
		start = from
	}
	start = lineStart(data, max(0, min(start, end)))
	first := bytes.Count(data[:start], []byte("\n")) + 1
	d := logData{page: page{User: userOf(r), Title: fmt.Sprintf("%s · %s", job.Name, repo.Slug())},
		Repo: repo, Path: repoPath(repo), Build: b, Job: job, Earlier: -1, Offset: int64(end), Running: !job.Status.Done()}
	for i, l := range ansiLines(data[start:end]) {
		d.Lines = append(d.Lines, logLine{N: first + i, HTML: template.HTML(l)})
	}
	d.Last = first + len(d.Lines) - 1
	if start > 0 {
		d.Earlier = max(0, start-logWindow)
	}
	if d.Running {
		d.Stream = fmt.Sprintf("%s/-/jobs/%d/log/stream?offset=%d", d.Path, job.ID, end)
	}
	h.render(w, http.StatusOK, "log", d)
}

// lineStart moves an offset forward to the start of a line.
func lineStart(data []byte, off int) int {
	if off == 0 || data[off-1] == '\n' {
		return off
	}
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(data)
}

// stream sends a job's log from an offset as server-sent events: each
// event is a JSON array of the new lines' HTML, its id the offset after
// them (so a reconnecting EventSource resumes with Last-Event-ID). Only
// whole lines go out while the job runs; when it is done the rest goes,
// then an "end" event carrying the job's status.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	job, _, err := h.repoJob(r, repo)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	off, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil {
		off, _ = strconv.ParseInt(r.FormValue("offset"), 10, 64)
	}
	off = max(off, 0)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	poll, keepAlive := time.NewTicker(h.opts.Poll), time.NewTicker(h.opts.KeepAlive)
	defer poll.Stop()
	defer keepAlive.Stop()
	for {
		sent, done, err := h.sendNew(r, w, job.ID, &off)
		if err == nil && (sent || done) {
			err = rc.Flush()
		}
		if err != nil || done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-poll.C:
		}
	}
}

// sendNew writes the log's new whole lines from *off as one event, or the
// end event when the job is done and everything is sent.
func (h *Handler) sendNew(r *http.Request, w http.ResponseWriter, jobID int64, off *int64) (sent, done bool, err error) {
	// The status is read before the log: bytes a finished job wrote are
	// all in the store by the time it reads as done.
	job, err := h.opts.Store.Job(r.Context(), jobID)
	if err != nil {
		return false, false, err
	}
	data, err := h.opts.Store.ReadLog(r.Context(), jobID, *off, 0)
	if err != nil {
		return false, false, err
	}
	if !job.Status.Done() {
		data = data[:bytes.LastIndexByte(data, '\n')+1]
	}
	if len(data) > 0 {
		lines, _ := json.Marshal(ansiLines(data))
		*off += int64(len(data))
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", *off, lines); err != nil {
			return false, false, err
		}
	}
	if job.Status.Done() {
		_, err = fmt.Fprintf(w, "event: end\ndata: %s\n\n", job.Status)
		return true, true, err
	}
	return len(data) > 0, false, nil
}
