package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/slipway-ci/slipway/server/live"

	"github.com/slipway-ci/slipway/server/store"
)

// logWindow is how much of a log's end a page shows first: a 100,000-line
// log opens as fast as a short one, and "show earlier" pages back.
const logWindow = 32 << 10

type logData struct {
	page
	Repo    store.Repo
	Path    string
	Build   store.Build
	Job     store.Job
	Lines   template.HTML // renderLog's
	Last    int           // the number of the last line shown
	Earlier int           // offset of the previous window; -1 when the start is shown
	Offset  int64
	Running bool
	Stream  string
	Play    bool // a manual job, and the user may play it
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
	d := logData{page: pageOf(r, fmt.Sprintf("%s · %s", job.Name, repo.Slug())),
		Repo: repo, Path: repoPath(repo), Build: b, Job: job, Earlier: -1, Offset: int64(end), Running: !job.Status.Done(),
		Play: job.Status == store.JobManual && mayManage(*userOf(r), repo)}
	var n int
	d.Lines, n = renderLog(data[start:end], first)
	d.Last = first + n - 1
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
// event is a JSON array of the new lines (logItems: a line's HTML, or an
// object for a line that opens or closes a section), its id the offset
// after them (so a reconnecting EventSource resumes with Last-Event-ID).
// Only whole lines go out while the job runs; when it is done the rest
// goes, then an "end" event carrying the job's status.
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
	f := live.Follower{Store: h.opts.Store, Hub: h.opts.Hub, Poll: h.opts.Poll, KeepAlive: h.opts.KeepAlive, Done: h.done}
	_ = f.Follow(r.Context(), job.ID, max(off, 0), logSink{startEvents(w)})
}

// logSink sends a log as the page's events: whole lines, as HTML.
type logSink struct{ e *events }

func (s logSink) Cut(data []byte, final bool) int { return live.WholeLines(data, final) }
func (s logSink) KeepAlive() error                { return s.e.comment() }
func (s logSink) End(st store.JobStatus) error    { return s.e.send("", "end", st) }
func (s logSink) Send(data []byte, end int64) error {
	return s.e.send(strconv.FormatInt(end, 10), "", logItems(data))
}
