package runner

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

func TestKeptNow(t *testing.T) {
	a := &pipeline.Artifacts{Paths: []string{"bin/"}, Reports: []pipeline.Report{{Type: "junit", Paths: []string{"r.xml"}}}}
	if k := keptNow(a, false); k == nil || !slices.Equal(k.Paths, []string{"bin/", "r.xml"}) {
		t.Errorf("passed: %+v", k)
	}
	if k := keptNow(a, true); k == nil || !slices.Equal(k.Paths, []string{"r.xml"}) {
		t.Errorf("failed: %+v", k)
	}
	if k := keptNow(&pipeline.Artifacts{Paths: []string{"x"}}, true); k != nil {
		t.Errorf("failed without reports: %+v", k)
	}
	if !slices.Equal(a.Paths, []string{"bin/"}) {
		t.Errorf("keptNow changed its argument: %v", a.Paths)
	}
}

func TestWithDotenv(t *testing.T) {
	r := &run{dotenv: map[string][]string{"build": {"V=1", "NEW=x"}, "other": {"O=1"}}}
	j := &plan.Job{Job: &pipeline.Job{ArtifactsFrom: []string{"build"}}}
	got := r.withDotenv(j, []string{"CI=true", "V=yaml", "A=b"})
	if want := []string{"CI=true", "A=b", "V=1", "NEW=x"}; !slices.Equal(got, want) {
		t.Errorf("env %v, want %v", got, want)
	}
}

func TestRemoveExpired(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	mk := func(job string, expires time.Time) {
		dir := filepath.Join(root, "run1", job)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
		if !expires.IsZero() {
			os.WriteFile(dir+expiresSuffix, []byte(expires.UTC().Format(time.RFC3339)+"\n"), 0o644)
		}
	}
	mk("old", now.Add(-time.Hour))
	mk("fresh", now.Add(time.Hour))
	mk("never", time.Time{})
	n, err := RemoveExpired(root, now)
	if err != nil || n != 1 {
		t.Fatalf("removed %d, %v; want 1", n, err)
	}
	for job, want := range map[string]bool{"old": false, "fresh": true, "never": true} {
		if _, err := os.Stat(filepath.Join(root, "run1", job, "f")); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", job, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "run1", "old"+expiresSuffix)); err == nil {
		t.Error("the expiry mark of removed artifacts is left")
	}
}
