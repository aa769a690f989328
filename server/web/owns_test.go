package web

import "testing"

// The web interface shares "/" with git's smart HTTP and the APIs.
func TestOwns(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/-/login": true, "/-/static/app.js": true, "/acme/app": true,
		"/acme/app/-/builds/3": true, "/acme/app/-/jobs/7/log/stream": true,
		"/acme/app.git": false, "/acme/app.git/info/refs": false, "/acme/app/info/refs": false,
		"/api/user": false, "/api/repos/acme/app": false, "/acme": false, "/healthz": false,
	} {
		if got := Owns(path); got != want {
			t.Errorf("Owns(%q) = %v, want %v", path, got, want)
		}
	}
}
