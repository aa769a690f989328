package web

import (
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

// statusMark is what a status shows besides its colour and its name: a
// shape, so that statuses of similar colour differ without colour, and a
// hint (the pill's title) for the statuses that wait for a person.
type statusMark struct {
	Icon string
	Hint string
}

// Icons from blocks that common fonts have (U+23F8, a pause sign, is
// missing from Debian's default ones); the gear carries U+FE0E (text
// presentation), so that it takes the status's colour, not an emoji's.
var statusMarks = map[string]statusMark{
	"manual":  {"\u2699\ufe0e", "A manual job: it runs when someone plays it."},
	"blocked": {"\u2016", "Waits for a manual job to be played."},
}

// playButton is what the "play" template draws: the form that plays a
// manual job, for the build page's job list and the job's log page.
type playButton struct {
	Action, CSRF, Name string
	ID                 int64
	Back               bool // back to the job's log, not to its build
}

// playOf is the template's playButton of job j of the repository at path.
func playOf(path, csrf string, j store.Job, back bool) playButton {
	return playButton{Action: fmt.Sprintf("%s/-/jobs/%d/play", path, j.ID), CSRF: csrf, Name: j.Name, ID: j.ID, Back: back}
}

// mark is the template's statusMark of a job's or a build's status.
func mark(status any) statusMark { return statusMarks[fmt.Sprint(status)] }
