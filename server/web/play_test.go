package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/server/store"
)

// withManualBuild adds acme/app and a build whose compile job has run and
// whose deploy job (GitLab's when: manual, not allowed to fail) waits to
// be played: deploy is manual and the build blocked. A second manual
// job, notify, may fail (so it does not block the build).
func (s *site) withManualBuild(t *testing.T) *site {
	t.Helper()
	s.withJobs(t,
		store.Job{Name: "compile", Stage: "build", Document: []byte("{}")},
		store.Job{Name: "deploy", Stage: "deploy", Needs: []string{"compile"}, When: store.Manual, Document: []byte("{}")},
		store.Job{Name: "notify", Stage: "deploy", Needs: []string{"compile"}, When: store.Manual, AllowFailure: true, Document: []byte("{}")})
	s.finish(t, s.jobs[0].ID)
	s.wantState(t, store.JobManual, store.BuildBlocked)
	return s
}

// wantState checks the deploy job's status and its build's.
func (s *site) wantState(t *testing.T, job store.JobStatus, build store.BuildStatus) {
	t.Helper()
	ctx := context.Background()
	j, err := s.st.Job(ctx, s.jobs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.st.BuildByID(ctx, s.build.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != job || b.Status != build {
		t.Fatalf("deploy is %s and the build %s; want %s and %s", j.Status, b.Status, job, build)
	}
}

// TestPlayManualJob: the build page shows a blocked build's manual job
// with its own status and a Play button to those who may manage the
// repository; the button's form, with the session's token, queues it.
func TestPlayManualJob(t *testing.T) {
	s := startSite(t).withManualBuild(t)
	admin, bob := s.client(t, s.admin), s.bob(t)
	deploy := s.jobs[1].ID
	play := fmt.Sprintf("/acme/app/-/jobs/%d/play", deploy)

	_, body := admin.get(t, "/acme/app/-/builds/1")
	wantContains(t, "blocked build page", body,
		`<span class="st st-blocked" title="Waits for a manual job to be played."><span class="st-icon" aria-hidden="true">`+"\u2016</span> blocked</span>",
		`<span class="st st-manual" title="A manual job: it runs when someone plays it."><span class="st-icon" aria-hidden="true">`+"\u2699\ufe0e</span> manual</span>",
		`class="waits">This build waits for a manual job to be played: play it`,
		fmt.Sprintf(`action="%s" id="play-%d"`, play, deploy),
		fmt.Sprintf(`name="csrf" value="%s"`, admin.csrf),
		`aria-label="Play deploy"><span aria-hidden="true">&#x25b6;</span> Play</button>`,
		`class="node n-manual"`, `<path class="mark"`,
		fmt.Sprintf(`<button type="submit" form="play-%d" class="play-mini" tabindex="-1" title="Play deploy">`, deploy),
		`id="cancel"`) // a blocked build can still be canceled
	if strings.Contains(body, `aria-label="Play compile"`) {
		t.Errorf("a finished job has a Play button")
	}

	// The live fragment, which replaces the page's, has the same form
	// with the same token.
	_, ev := openStream(t, s.url, "/acme/app/-/builds/1/events?key=stale", admin.session(t), "")
	if got := ev.next(); !strings.Contains(got, `aria-label=\"Play deploy\"`) || !strings.Contains(got, admin.csrf) {
		t.Errorf("the build page's live fragment lacks the Play form or its token: %q", got)
	}

	_, body = bob.get(t, "/acme/app/-/builds/1")
	wantContains(t, "bob's build page", body, "st-manual", "st-blocked", `class="waits">This build waits for a manual job to be played.</p>`)
	if strings.Contains(body, "Play deploy") || strings.Contains(body, play) {
		t.Errorf("bob, who may only look, sees the Play button")
	}
	if resp := bob.post(t, play, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob plays deploy: %d, want 403", resp.StatusCode)
	}
	if resp := admin.post(t, play, url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("play with a wrong form token: %d, want 403", resp.StatusCode)
	}
	if resp := admin.post(t, play, url.Values{"csrf": {""}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("play without a form token: %d, want 403", resp.StatusCode)
	}
	if resp := admin.post(t, fmt.Sprintf("/acme/app/-/jobs/%d/play", deploy+100), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("play an unknown job: %d, want 404", resp.StatusCode)
	}
	s.wantState(t, store.JobManual, store.BuildBlocked)

	_, ev = openStream(t, s.url, "/acme/app/-/builds/1/events?key="+liveKey(t, body), admin.session(t), "")
	resp := admin.post(t, play, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/acme/app/-/builds/1" {
		t.Fatalf("play: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	s.wantState(t, store.JobPending, store.BuildRunning)
	// The page reads the build, then its jobs: a fragment read while
	// the play commits may show the one before it and the other after,
	// and the next one the state after the play.
	for i := 0; ; i++ {
		got := ev.next()
		if !strings.HasPrefix(got, "event: html\n") {
			t.Fatalf("the build page's stream after play: %q", got)
		}
		if !strings.Contains(got, "Play deploy") && strings.Contains(got, "Play notify") && strings.Contains(got, "st-running") {
			break
		}
		if i == 2 {
			t.Fatalf("the build page's live fragment after play: %q", got)
		}
	}
	if _, body = admin.get(t, "/acme/app/-/builds/1"); strings.Contains(body, "Play deploy") {
		t.Errorf("the played job still has a Play button")
	}
	resp = admin.post(t, play, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("play a pending job: %d, want 409", resp.StatusCode)
	}
}

// liveKey is the state key of a page's live part.
func liveKey(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`data-live="[^"]*key=([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no live key in the page:\n%s", page)
	}
	return m[1]
}

// TestPlayFromTheLogPage: a manual job's log page says that it waits and,
// to those who may manage the repository, has the Play button, which
// comes back to the log to watch the job run.
func TestPlayFromTheLogPage(t *testing.T) {
	s := startSite(t).withManualBuild(t)
	admin, bob := s.client(t, s.admin), s.bob(t)
	notify := s.jobs[2].ID
	logPath := fmt.Sprintf("/acme/app/-/jobs/%d/log", notify)
	_, body := admin.get(t, logPath)
	wantContains(t, "manual job's log page", body, "This manual job runs when someone plays it.",
		fmt.Sprintf(`action="/acme/app/-/jobs/%d/play"`, notify), `name="back" value="log"`, `aria-label="Play notify"`)
	if _, body := bob.get(t, logPath); strings.Contains(body, "Play notify") || !strings.Contains(body, "This manual job runs") {
		t.Errorf("bob's log page of the manual job:\n%s", body)
	}
	resp := admin.post(t, fmt.Sprintf("/acme/app/-/jobs/%d/play", notify), url.Values{"back": {"log"}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != logPath {
		t.Fatalf("play from the log page: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if j, err := s.st.Job(context.Background(), notify); err != nil || j.Status != store.JobPending {
		t.Errorf("notify after play: %s (%v), want pending", j.Status, err)
	}
	if _, body := admin.get(t, logPath); strings.Contains(body, "Play notify") || strings.Contains(body, "This manual job runs") {
		t.Errorf("the played job's log page still offers to play it")
	}
}
