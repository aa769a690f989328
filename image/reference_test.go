package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseNormalises(t *testing.T) {
	tests := []struct {
		in                                string
		want, familiar, domain, path, tag string
		digest                            string
	}{
		{"golang", "docker.io/library/golang:latest", "golang:latest", "docker.io", "library/golang", "latest", ""},
		{"golang:1.12", "docker.io/library/golang:1.12", "golang:1.12", "docker.io", "library/golang", "1.12", ""},
		{"library/golang:1.7", "docker.io/library/golang:1.7", "golang:1.7", "docker.io", "library/golang", "1.7", ""},
		{"index.docker.io/library/golang", "docker.io/library/golang:latest", "golang:latest", "docker.io", "library/golang", "latest", ""},
		{"index.docker.io/library/golang:1.7", "docker.io/library/golang:1.7", "golang:1.7", "docker.io", "library/golang", "1.7", ""},
		{"docker.io/library/golang:1.7", "docker.io/library/golang:1.7", "golang:1.7", "docker.io", "library/golang", "1.7", ""},
		{"octocat/hello", "docker.io/octocat/hello:latest", "octocat/hello:latest", "docker.io", "octocat/hello", "latest", ""},
		{"docker.company.com/golang", "docker.company.com/golang:latest", "docker.company.com/golang:latest", "docker.company.com", "golang", "latest", ""},
		{"registry.example.com:5000/namespace/image:tag", "registry.example.com:5000/namespace/image:tag", "registry.example.com:5000/namespace/image:tag", "registry.example.com:5000", "namespace/image", "tag", ""},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost", "app", "latest", ""},
		// A digest pins the image: no default tag is added.
		{"golang@sha256:" + hex64, "docker.io/library/golang@sha256:" + hex64, "golang@sha256:" + hex64, "docker.io", "library/golang", "", "sha256:" + hex64},
		{"golang:1.12@sha256:" + hex64, "docker.io/library/golang:1.12@sha256:" + hex64, "golang:1.12@sha256:" + hex64, "docker.io", "library/golang", "1.12", "sha256:" + hex64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got := []string{r.String(), r.Familiar(), r.Domain(), r.Path(), r.Tag(), r.Digest()}
			want := []string{tt.want, tt.familiar, tt.domain, tt.path, tt.tag, tt.digest}
			names := []string{"String", "Familiar", "Domain", "Path", "Tag", "Digest"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s() = %q, want %q", names[i], got[i], want[i])
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in, reason string
		is         error // the distribution/reference sentinel, when there is one
	}{
		{"Golang", "repository name (library/Golang) must be lowercase", nil},
		{"registry.example.com/Namespace/image", "must be lowercase", nil},
		{"", "image name is empty", nil},
		{"   ", "image name is empty", nil},
		{"a:b:c", "invalid reference format", reference.ErrReferenceInvalidFormat},
		{"golang:", "invalid reference format", reference.ErrReferenceInvalidFormat},
		{"golang@sha256:abc", "invalid reference format", reference.ErrReferenceInvalidFormat},
		{"golang/", "invalid reference format", reference.ErrReferenceInvalidFormat},
		{hex64, "cannot specify 64-byte hexadecimal strings", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error", tt.in)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Parse(%q) = %v, want reason %q", tt.in, err, tt.reason)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Parse(%q) = %v, want errors.Is %v", tt.in, err, tt.is)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"golang", "golang:1.12", "library/golang:1.7", "index.docker.io/library/golang",
		"registry.example.com:5000/namespace/image:tag", "golang@sha256:" + hex64,
		"golang:1.12@sha256:" + hex64, "a:b:c", "Golang", "", "localhost:5000/a/b/c",
		"docker.io/0.0/0", // found by the fuzzer: its short form would read 0.0 as a host
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not re-parse: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("Parse(%q) = %q, re-parsed %q", s, r.String(), again.String())
		}
		// The short form Docker prints must name the same image.
		if fam, err := Parse(r.Familiar()); err != nil || fam.String() != r.String() {
			t.Fatalf("Parse(%q).Familiar() = %q re-parses to %v, %v", s, r.Familiar(), fam, err)
		}
	})
}
