package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Build is a build with its jobs (Drone's stages: one per job).
type Build struct {
	Number   int64  `json:"number"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	Event    string `json:"event"`
	Ref      string `json:"ref"`
	Commit   string `json:"after"`
	Parent   int64  `json:"parent,omitempty"` // the build this one restarts
	Sender   string `json:"sender"`
	Message  string `json:"message"`
	Created  int64  `json:"created"`
	Started  int64  `json:"started"`
	Finished int64  `json:"finished"`
	Jobs     []Job  `json:"stages"`
}

// Job is one job of a build.
type Job struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
}

// StartBuild builds ref (a branch, a tag; empty: the default branch) of
// the hosted repository as a push of it would.
func (c *Client) StartBuild(ctx context.Context, slug, ref string) (Build, error) {
	var b Build
	return b, c.call(ctx, "POST", slug, "/builds", map[string]string{"ref": ref}, &b)
}

// Builds lists a repository's latest builds, newest first.
func (c *Client) Builds(ctx context.Context, slug string) ([]Build, error) {
	var bs []Build
	return bs, c.call(ctx, "GET", slug, "/builds?per_page=50", nil, &bs)
}

// Build is one build.
func (c *Client) Build(ctx context.Context, slug string, n int64) (Build, error) {
	var b Build
	return b, c.call(ctx, "GET", slug, "/builds/"+itoa(n), nil, &b)
}

// CancelBuild cancels a build: its running jobs are stopped by their
// runners.
func (c *Client) CancelBuild(ctx context.Context, slug string, n int64) (Build, error) {
	var b Build
	return b, c.call(ctx, "POST", slug, "/builds/"+itoa(n)+"/cancel", nil, &b)
}

// Log writes the stored log of job (its number in the build) to w.
func (c *Client) Log(ctx context.Context, slug string, n int64, job int, w io.Writer) error {
	var lines []struct {
		Out string `json:"out"`
	}
	if err := c.call(ctx, "GET", slug, fmt.Sprintf("/builds/%d/logs/%d/1", n, job), nil, &lines); err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := io.WriteString(w, l.Out); err != nil {
			return err
		}
	}
	return nil
}

// Follow writes job's log to w as it grows, until the job is done, and
// returns its final status. A dropped connection is resumed from the
// last byte received (Last-Event-ID), so nothing is written twice.
func (c *Client) Follow(ctx context.Context, slug string, n int64, job string, w io.Writer) (string, error) {
	p, err := repoPath(slug)
	if err != nil {
		return "", err
	}
	path := fmt.Sprintf("%s/builds/%d/logs/%s/stream", p, n, url.PathEscape(job))
	var offset int64
	for attempt := 0; ; attempt++ {
		status, err := c.followOnce(ctx, path, &offset, w)
		if status != "" || ctx.Err() != nil || attempt >= 10 {
			return status, err
		}
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return "", err // refused: asking again changes nothing
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// followOnce reads one stream; it moves offset past what it wrote.
func (c *Client) followOnce(ctx context.Context, path string, offset *int64, w io.Writer) (string, error) {
	h := http.Header{"Accept": {"text/event-stream"}}
	if *offset > 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(*offset, 10))
	}
	resp, err := c.request(ctx, "GET", path, nil, h)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ev event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !ev.add(sc.Text()) {
			continue
		}
		status, err := ev.apply(offset, w)
		if status != "" || err != nil {
			return status, err
		}
		ev = event{}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", io.ErrUnexpectedEOF
}

// event is a server-sent event as it is read.
type event struct{ id, name, data string }

// add takes one line; true when the line ends the event.
func (e *event) add(line string) bool {
	switch {
	case line == "":
		return e.name != ""
	case strings.HasPrefix(line, "id: "):
		e.id = line[4:]
	case strings.HasPrefix(line, "event: "):
		e.name = line[7:]
	case strings.HasPrefix(line, "data: "):
		e.data = line[6:]
	}
	return false
}

// apply writes a log event, or answers the end event's status.
func (e *event) apply(offset *int64, w io.Writer) (string, error) {
	var text string
	if err := json.Unmarshal([]byte(e.data), &text); err != nil {
		return "", fmt.Errorf("stream event %s: %w", e.name, err)
	}
	switch e.name {
	case "end":
		return text, nil
	case "error":
		return "", errors.New("server: " + text)
	case "log":
		if _, err := io.WriteString(w, text); err != nil {
			return "", err
		}
		next, err := strconv.ParseInt(e.id, 10, 64)
		if err != nil {
			return "", fmt.Errorf("stream event id %q: %w", e.id, err)
		}
		*offset = next
	}
	return "", nil
}

// RestartBuild starts a new build of build n's commit and ref (Drone's
// restart); the answer is the new build.
func (c *Client) RestartBuild(ctx context.Context, slug string, n int64) (Build, error) {
	var b Build
	return b, c.call(ctx, "POST", slug, "/builds/"+itoa(n), nil, &b)
}
