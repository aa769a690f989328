// Package image parses and normalises image references the way the Docker
// Engine does, decides when to pull, and finds registry credentials.
package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Reference is a parsed, normalised image reference.
type Reference struct {
	named reference.Named
}

// Parse accepts every form Docker accepts (golang, golang:1.12,
// library/golang, index.docker.io/library/golang:1.7, host:5000/ns/img:tag,
// name@sha256:..., name:tag@digest) and rejects the rest with Docker's
// reason.
func Parse(name string) (Reference, error) {
	if strings.TrimSpace(name) == "" {
		return Reference{}, fmt.Errorf("image name is empty")
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid image name %q: %w", name, err)
	}
	return Reference{named: reference.TagNameOnly(named)}, nil
}

// String is the fully normalised form: docker.io/library/golang:latest.
func (r Reference) String() string { return r.named.String() }

// Familiar is the short form Docker prints: golang:latest. Where the short
// form would name another image (docker.io/0.0/x shortens to 0.0/x, whose
// first component then reads as a registry host), it is the full form.
func (r Reference) Familiar() string {
	fam := reference.FamiliarString(r.named)
	if again, err := reference.ParseNormalizedNamed(fam); err != nil || reference.TagNameOnly(again).String() != r.named.String() {
		return r.named.String()
	}
	return fam
}

// Domain is the registry host, port included: docker.io, host:5000.
func (r Reference) Domain() string { return reference.Domain(r.named) }

// Path is the repository path within the registry: library/golang.
func (r Reference) Path() string { return reference.Path(r.named) }

// Tag is the tag, or "" when the reference has only a digest.
func (r Reference) Tag() string {
	if t, ok := r.named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Digest is the digest, or "".
func (r Reference) Digest() string {
	if d, ok := r.named.(reference.Digested); ok {
		return d.Digest().String()
	}
	return ""
}
