package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/server/store"
)

// The live log of a job as server-sent events. The stream polls the store
// (ReadLog every 200 ms) rather than waiting on a notification: the store
// may be PostgreSQL shared by several servers, where an in-process signal
// would miss the appends the others take, and 200 ms is below what a
// person watching a log notices.
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
const (
	streamPoll      = 200 * time.Millisecond
	streamKeepAlive = 15 * time.Second
	streamChunk     = 64 << 10
)

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
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	lastSent := time.Now()
	for {
		// Read the status before the log: a job done before the read
		// has its whole log in it.
		job, err := s.st.Job(ctx, jobID)
		if err != nil {
			return err
		}
		n, err := s.sendNew(ctx, e, jobID, offset, job.Status.Done())
		if err != nil {
			return err
		}
		offset += n
		switch {
		case n > 0:
			lastSent = time.Now()
			continue // more may be waiting beyond one chunk
		case job.Status.Done():
			return e.event("", "end", string(job.Status))
		case time.Since(lastSent) >= keepAlive:
			if err := e.comment("keep-alive"); err != nil {
				return err
			}
			lastSent = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.streams:
			return nil // the client resumes from the last id once the server is back
		case <-poll.C:
		}
	}
}

// sendNew sends one chunk of what the log has beyond offset. A character
// cut at the chunk's end (by the chunk size, or by the runner's trace
// upload) is held back until the rest of it is there: an event's data is
// a JSON string, where half a character would become U+FFFD for good.
func (s *Server) sendNew(ctx context.Context, e *eventWriter, jobID, offset int64, final bool) (int64, error) {
	data, err := s.st.ReadLog(ctx, jobID, offset, streamChunk)
	if err != nil || len(data) == 0 {
		return 0, err
	}
	if !final || len(data) == streamChunk {
		data = data[:len(data)-partialRune(data)]
		if len(data) == 0 {
			return 0, nil
		}
	}
	end := offset + int64(len(data))
	return int64(len(data)), e.event(strconv.FormatInt(end, 10), "log", string(data))
}

// partialRune is how many bytes at data's end begin a UTF-8 character
// that is not complete.
func partialRune(data []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(data); i++ {
		b := data[len(data)-i]
		if utf8.RuneStart(b) {
			if b >= utf8.RuneSelf && !utf8.FullRune(data[len(data)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
