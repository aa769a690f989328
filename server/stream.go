package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/store"
)

// The live log of a job as server-sent events, followed by live.Follower:
// woken when this server appends to the log, and reading the store every
// second besides, for appends taken by other servers sharing a PostgreSQL
// store.
//
// Events:
//
//	id: <offset after this chunk>
//	event: log
//	data: "<the chunk, as a JSON string>"
//
//	event: end
//	data: "<the job's final status>"
//
// A client that reconnects with Last-Event-ID (or ?offset=N) resumes
// where it was.
const streamKeepAlive = 15 * time.Second

func (s *Server) streamLog(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	job, err := s.buildJob(r, repo)
	if err != nil {
		httpError(w, err)
		return
	}
	offset, err := resumeOffset(r)
	if err != nil {
		httpError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold the events back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	sse := &eventWriter{w: w, rc: rc}
	if err := s.followLog(r.Context(), sse, job.ID, offset, streamKeepAlive); err != nil && r.Context().Err() == nil {
		sse.event("", "error", err.Error())
	}
}

// resumeOffset is where a stream starts: Last-Event-ID, else ?offset=,
// else 0.
func resumeOffset(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("offset")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "offset %q: not a byte offset", v)
	}
	return n, nil
}

// eventWriter writes server-sent events and flushes each.
type eventWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (e *eventWriter) event(id, name string, data any) error {
	js, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if id != "" {
		fmt.Fprintf(e.w, "id: %s\n", id)
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", name, js); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *eventWriter) comment(text string) error {
	if _, err := fmt.Fprintf(e.w, ": %s\n\n", text); err != nil {
		return err
	}
	return e.rc.Flush()
}

// followLog sends the log from offset on as it grows, until the job is
// done and all of it is sent, or the client goes.
func (s *Server) followLog(ctx context.Context, e *eventWriter, jobID, offset int64, keepAlive time.Duration) error {
	f := live.Follower{Store: s.st, Hub: s.hub, KeepAlive: keepAlive, Done: s.streams}
	return f.Follow(ctx, jobID, offset, apiSink{e})
}

// apiSink sends a log as the API's events: chunks of whole characters.
type apiSink struct{ e *eventWriter }

func (a apiSink) Cut(data []byte, final bool) int { return live.WholeRunes(data, final) }
func (a apiSink) KeepAlive() error                { return a.e.comment("keep-alive") }
func (a apiSink) End(st store.JobStatus) error    { return a.e.event("", "end", string(st)) }
func (a apiSink) Send(data []byte, end int64) error {
	return a.e.event(strconv.FormatInt(end, 10), "log", string(data))
}
