package runner

import (
	"strings"
	"time"

	"github.com/slipway-ci/slipway/engine"
)

// progressEvery is how often a layer that is downloading or extracting
// gets a new line on a terminal.
const progressEvery = time.Second

// pullProgress reports one image's pull. On a terminal it prints a line
// when a layer changes phase (download started, downloaded, extracted,
// already there) and, at most every progressEvery, how far a download or
// an extraction has got; elsewhere it prints nothing, and the caller's
// "Pulling" and "Pulled" lines are the whole story. Plain lines, no cursor
// movement: output of concurrent jobs and pulls interleaves safely, and a
// log captured from a terminal stays readable.
type pullProgress struct {
	r        *run
	job      string
	image    string
	terminal bool
	layers   map[string]*layerProgress
	upToDate bool
}

type layerProgress struct {
	phase   string
	printed time.Time
}

// newPullProgress starts the report of a pull of image; call done when
// the pull ends.
func (r *run) newPullProgress(job, image string) *pullProgress {
	r.images.mu.Lock()
	r.images.pulling++
	r.images.mu.Unlock()
	return &pullProgress{r: r, job: job, image: image, terminal: r.Terminal, layers: map[string]*layerProgress{}}
}

func (p *pullProgress) done() {
	p.r.images.mu.Lock()
	p.r.images.pulling--
	p.r.images.mu.Unlock()
}

// quietPhases are steps of a layer not worth a line of their own.
var quietPhases = map[string]bool{"Pulling fs layer": true, "Waiting": true, "Verifying Checksum": true}

// event takes one progress report of the engine (see engine/docker's
// PullImage for the shape of Status). The engine calls it from one
// goroutine per pull.
func (p *pullProgress) event(ev engine.PullEvent) {
	if ev.Layer == "" {
		if strings.HasPrefix(ev.Status, "Status: Image is up to date") {
			p.upToDate = true
		}
		if p.terminal && strings.HasPrefix(ev.Status, "Digest: ") {
			p.line(ev.Status)
		}
		return
	}
	if !p.terminal || strings.HasPrefix(ev.Status, "Pulling from ") {
		return // the tag's own "Pulling from library/busybox" line
	}
	phase := phaseOf(ev.Status)
	if quietPhases[phase] {
		return
	}
	l := p.layers[ev.Layer]
	if l == nil {
		l = &layerProgress{}
		p.layers[ev.Layer] = l
	}
	now := time.Now()
	if phase == l.phase && now.Sub(l.printed) < progressEvery {
		return
	}
	l.phase, l.printed = phase, now
	p.line(ev.Layer + ": " + ev.Status)
}

// line prints one progress line, naming the image when several pulls are
// under way at once.
func (p *pullProgress) line(s string) {
	p.r.images.mu.Lock()
	several := p.r.images.pulling > 1
	p.r.images.mu.Unlock()
	if several {
		s = p.image + " " + s
	}
	p.r.say(p.job, "  %s", s)
}

// summary is added to the "Pulled" line.
func (p *pullProgress) summary() string {
	if p.upToDate {
		return " (the local image was up to date)"
	}
	return ""
}

// phaseOf is a status without its " 12.3MB/40MB" progress figure.
func phaseOf(status string) string {
	if i := strings.IndexAny(status, "0123456789"); i >= 0 {
		return strings.TrimSpace(status[:i])
	}
	return status
}

// roundDuration keeps a duration short: 850ms, 2.3s, 1m5s.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
