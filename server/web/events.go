package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/slipway-ci/slipway/server/live"
	"github.com/slipway-ci/slipway/server/store"
)

// Live pages: the builds list and a build's page open an event stream
// that sends the changing part of the page again, rendered by the same
// template, whenever what it shows changes:
//
//	event: html
//	data: "<the fragment's HTML, as a JSON string>"
//
//	event: end
//	data: "done"     (the build is over: nothing will change)
//
// The page says which state it shows (?key=), so an unchanged page gets
// nothing. The store's changes in this process wake the stream at once
// (live.Builds); it reads the store every pagePoll besides.
const pagePoll = 2 * time.Second

// fragment renders a live part of a page: its state key, its HTML, and
// whether it can change any more.
type fragment func(r *http.Request) (key string, html []byte, done bool, err error)

func (h *Handler) buildsEvents(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	h.liveEvents(w, r, func(r *http.Request) (string, []byte, bool, error) {
		d, err := h.buildsPage(r, repo, 1)
		if err != nil {
			return "", nil, false, err
		}
		html, err := h.fragment("builds", "rows", d)
		return d.Key, html, false, err
	})
}

func (h *Handler) buildEvents(w http.ResponseWriter, r *http.Request, repo store.Repo) {
	h.liveEvents(w, r, func(r *http.Request) (string, []byte, bool, error) {
		d, err := h.buildPage(r, repo)
		if err != nil {
			return "", nil, false, err
		}
		html, err := h.fragment("build", "live", d)
		return d.Key, html, finished(d.Build.Status), err
	})
}

// finished: a build in this status changes no more (a restart is a new
// build).
func finished(s store.BuildStatus) bool {
	switch s {
	case store.BuildSuccess, store.BuildFailed, store.BuildCanceled, store.BuildError:
		return true
	}
	return false
}

func (h *Handler) fragment(page, name string, data any) ([]byte, error) {
	var b bytes.Buffer
	err := h.pages[page].ExecuteTemplate(&b, name, data)
	return b.Bytes(), err
}

func (h *Handler) liveEvents(w http.ResponseWriter, r *http.Request, render fragment) {
	sse := startEvents(w)
	poll := h.opts.Poll
	if poll <= 0 {
		poll = pagePoll
	}
	pollT, quiet := time.NewTicker(poll), time.NewTicker(h.opts.KeepAlive)
	defer pollT.Stop()
	defer quiet.Stop()
	last := r.FormValue("key")
	for {
		wake := h.opts.Hub.Wait(live.Builds)
		key, html, done, err := render(r)
		if err != nil {
			sse.send("", "failure", err.Error())
			return
		}
		if key != last {
			if sse.send("", "html", string(html)) != nil {
				return
			}
			last = key
		}
		if done {
			sse.send("", "end", "done")
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-quiet.C:
			if sse.comment() != nil {
				return
			}
		case <-wake:
		case <-pollT.C:
		}
	}
}

// events writes server-sent events, each flushed at once.
type events struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startEvents(w http.ResponseWriter) *events {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	e := &events{w: w, rc: http.NewResponseController(w)}
	_ = e.rc.Flush() // the headers, so the client knows the stream is open
	return e
}

// send writes an event whose data is v as JSON; no name: a message.
func (e *events) send(id, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	if name != "" {
		fmt.Fprintf(&b, "event: %s\n", name)
	}
	fmt.Fprintf(&b, "data: %s\n\n", data)
	if _, err := e.w.Write(b.Bytes()); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *events) comment() error {
	if _, err := fmt.Fprint(e.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return e.rc.Flush()
}
