package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

var deliveries atomic.Int64

// newDeliveryID is a new webhook delivery id, as a forge makes one.
func newDeliveryID() string {
	return fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", deliveries.Add(1))
}

// TestWebhookRedelivery: each forge's delivery sent again answers 200
// with the build the first made, and builds nothing; a delivery whose
// build could not be made builds when it is sent again.
func TestWebhookRedelivery(t *testing.T) {
	ts := startServer(t, Options{})
	up := newUpstream(t)
	first := up.commit(t, "main", "README", "hello\n")
	repo, secret := ts.mirror(t, "octo/redeliver", up.url)
	second := up.commit(t, "main", ".gitlab-ci.yml", gitlabFile)
	for i, f := range []struct{ source, event, payload string }{
		{"github", "push", "github-push.json"},
		{"gitea", "push", "gitea-push.json"},
		{"gitlab", "Push Hook", "gitlab-push.json"},
	} {
		body := payload(t, f.payload, "refs/heads/main", first, second)
		h := signed(f.source, f.event, body, secret)
		b := wantBuild(t)(ts.hook(t, "octo/redeliver", h, body))
		if b.Number != int64(2*i+1) {
			t.Fatalf("%s push built %d, want %d", f.source, b.Number, 2*i+1)
		}
		code, msg := ts.hook(t, "octo/redeliver", h, body)
		if code != http.StatusOK || !strings.Contains(msg, fmt.Sprintf(`"number":%d,`, b.Number)) {
			t.Errorf("%s redelivery: %d %s, want 200 with build %d", f.source, code, msg, b.Number)
		}
		// The same push delivered anew (another id) is another build.
		if again := wantBuild(t)(ts.hook(t, "octo/redeliver", signed(f.source, f.event, body, secret), body)); again.Number != b.Number+1 {
			t.Errorf("%s: a new delivery of the same push built %d", f.source, again.Number)
		}
	}
	if n := len(ts.builds(t, repo)); n != 6 {
		t.Errorf("%d builds, want 6", n)
	}

	// A commit the upstream does not have yet: the fetch fails, the
	// delivery is forgotten, and its redelivery once the commit is
	// pushed builds.
	commitFile(t, up.work, "README", "later\n")
	third := strings.TrimSpace(mustGit(t, up.work, "rev-parse", "HEAD"))
	body := payload(t, "github-push.json", "refs/heads/main", second, third)
	h := signed("github", "push", body, secret)
	if code, msg := ts.hook(t, "octo/redeliver", h, body); code < 400 {
		t.Fatalf("a push of a commit the upstream lacks: %d %s", code, msg)
	}
	mustGit(t, up.work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	if b := wantBuild(t)(ts.hook(t, "octo/redeliver", h, body)); b.After != third {
		t.Errorf("the redelivery of a failed delivery built %+v", b)
	}

	// A delivery id no forge sends.
	h = signed("gitlab", "Push Hook", body, secret)
	h.Set("X-Gitlab-Event-UUID", strings.Repeat("x", 201))
	if code, msg := ts.hook(t, "octo/redeliver", h, body); code != http.StatusBadRequest || !strings.Contains(msg, "X-Gitlab-Event-UUID") {
		t.Errorf("a 201-character delivery id: %d %s", code, msg)
	}
}
