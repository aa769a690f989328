package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server/web"
)

// events reads server-sent events: each is its lines up to the blank line.
type events struct {
	t  *testing.T
	sc *bufio.Scanner
}

func openStream(t *testing.T, base, path, session, lastID string) (*http.Response, *events) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.AddCookie(&http.Cookie{Name: "slipway_session", Value: session})
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, &events{t: t, sc: bufio.NewScanner(resp.Body)}
}

func (e *events) next() string {
	e.t.Helper()
	var lines []string
	for e.sc.Scan() {
		if e.sc.Text() == "" {
			return strings.Join(lines, "\n")
		}
		lines = append(lines, e.sc.Text())
	}
	e.t.Fatalf("the stream ended (%v) after %q", e.sc.Err(), lines)
	return ""
}

func TestLogStream(t *testing.T) {
	s := startSite(t).withBuild(t)
	job := s.jobs[0].ID
	s.appendLog(t, job, "first\nhalf")
	path := fmt.Sprintf("/acme/app/-/jobs/%d/log/stream?offset=0", job)
	session := s.client(t, s.admin).session(t)
	resp, ev := openStream(t, s.url, path, session, "")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers: Content-Type %q, X-Accel-Buffering %q", ct, resp.Header.Get("X-Accel-Buffering"))
	}
	if got := ev.next(); got != `id: 6`+"\n"+`data: ["first"]` {
		t.Errorf("first event %q: want only the whole line", got)
	}
	s.appendLog(t, job, " done\n\x1b[31mred\x1b[0m\n")
	if got := ev.next(); got != `id: 29`+"\n"+`data: ["half done","\u003cspan class=\"fg1\"\u003ered\u003c/span\u003e"]` {
		t.Errorf("second event %q", got)
	}

	// A reconnecting EventSource resumes from Last-Event-ID.
	_, again := openStream(t, s.url, path, session, "6")
	if got := again.next(); !strings.HasPrefix(got, "id: 29\n") {
		t.Errorf("resumed at 6: %q", got)
	}

	s.appendLog(t, job, "tail without newline")
	s.finish(t, job)
	if got := ev.next(); got != `id: 49`+"\n"+`data: ["tail without newline"]` {
		t.Errorf("after the job ended: %q", got)
	}
	if got := ev.next(); got != "event: end\ndata: \"success\"" {
		t.Errorf("end event %q", got)
	}
	if ev.sc.Scan() {
		t.Errorf("the stream goes on after its end: %q", ev.sc.Text())
	}
}

// An idle stream sends keep-alive comments; the server's shutdown ends it.
func TestLogStreamKeepAliveAndShutdown(t *testing.T) {
	s := startSite(t).withBuild(t)
	h := web.New(web.Options{Store: s.st, KeepAlive: 50 * time.Millisecond})
	ts := httptest.NewServer(h)
	defer ts.Close()
	_, ev := openStream(t, ts.URL, fmt.Sprintf("/acme/app/-/jobs/%d/log/stream", s.jobs[0].ID), s.client(t, s.admin).session(t), "")
	if got := ev.next(); got != ": keep-alive" {
		t.Errorf("idle stream sent %q, want a keep-alive comment", got)
	}
	h.Shutdown()
	for ev.sc.Scan() {
		if ev.sc.Text() != "" && ev.sc.Text() != ": keep-alive" {
			t.Errorf("unexpected %q", ev.sc.Text())
		}
	}
	if err := ev.sc.Err(); err != nil {
		t.Errorf("the stream did not end cleanly on shutdown: %v", err)
	}
}
