package agent

import "testing"

func TestCacheProject(t *testing.T) {
	for in, want := range map[string]string{
		"https://gitlab-ci-token:secret@gitlab.example.com/group/project.git": "gitlab.example.com/group/project",
		"http://localhost:8080/a/b": "localhost:8080/a/b",
		"":                          "",
	} {
		if got := cacheProject(in); got != want {
			t.Errorf("cacheProject(%q) = %q, want %q", in, got, want)
		}
	}
}
