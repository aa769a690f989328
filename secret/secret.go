// Package secret reads secret arguments and masks secret values in
// everything a run prints.
//
// Secrets reach slipway through the CLI (--secret NAME=VALUE or
// --secret NAME=@path, see Parse) as a map of name to value; every log
// stream of a job goes through a Masker built from that map (see mask.go).
//
// Nothing in this package ever puts a secret value into an error or a
// String() result.
package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxFileSize caps NAME=@path secrets. Real file secrets (PEM keys,
// kubeconfigs, service-account JSON) are a few KiB; a larger file is almost
// certainly a mistake, and the masker's automaton grows by about 16 states
// (~25 bytes each) per byte of a token, for the value plus its encodings,
// and up to 28 for arbitrary bytes (46 MB and 2 s to build for 64 KiB).
const MaxFileSize = 64 << 10

var (
	// The argument is not echoed: without an '=' it may well be the value.
	errNoEquals = errors.New("secret: want NAME=VALUE or NAME=@FILE")
	// The bad name is not echoed either: if the user meant NAME:VALUE=…
	// the "name" holds part of the value.
	errBadName = errors.New("secret: invalid name (use letters, digits, '_', '-' and '.')")
)

// Parse splits one --secret argument.
//
//	NAME=VALUE    the value is VALUE, verbatim (may be empty)
//	NAME=@path    the value is the content of the file at path
//	NAME=@@text   the value is "@text" (escape for values starting with '@')
//
// File content: if the file is a single line ending in "\n" (or "\r\n"), that
// one line terminator is stripped, because `echo token > file` adds it and a
// token with a trailing newline breaks HTTP headers and `docker login`.
// Multi-line files (PEM keys, kubeconfigs, JSON) are kept byte for byte:
// OpenSSH refuses a private key whose final newline was removed, and GitLab
// "file" variables hand over the content unchanged too.
//
// Names are letters, digits, '_', '-' and '.': GitLab variable keys and Drone
// secret names (from_secret) both fit. Errors name the secret and the file
// but never contain the value.
func Parse(arg string) (name, value string, err error) {
	name, value, ok := strings.Cut(arg, "=")
	if !ok {
		return "", "", errNoEquals
	}
	if !validName(name) {
		return "", "", errBadName
	}
	switch {
	case strings.HasPrefix(value, "@@"):
		return name, value[1:], nil
	case strings.HasPrefix(value, "@"):
		value, err = readFile(value[1:])
		if err != nil {
			return "", "", fmt.Errorf("secret %s: %w", name, err)
		}
	}
	return name, value, nil
}

func readFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty file name after '@'")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err // *PathError: operation, path and cause, no content
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return "", fmt.Errorf("%s is larger than %d KiB", path, MaxFileSize>>10)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok && !strings.Contains(t, "\n") {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
