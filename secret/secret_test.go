package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseValue(t *testing.T) {
	for _, tc := range []struct{ arg, name, value string }{
		{"TOKEN=abc", "TOKEN", "abc"},
		{"TOKEN=", "TOKEN", ""},
		{"TOKEN=a=b==", "TOKEN", "a=b=="},
		{"docker-password.v2=x y", "docker-password.v2", "x y"},
		{"AT=@@home", "AT", "@home"}, // escape for a value starting with '@'
		{"AT=@@", "AT", "@"},
	} {
		name, value, err := Parse(tc.arg)
		if err != nil || name != tc.name || value != tc.value {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", tc.arg, name, value, err, tc.name, tc.value)
		}
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	pem := "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
	for _, tc := range []struct{ content, want string }{
		{"tok", "tok"},
		{"tok\n", "tok"},   // echo tok > file
		{"tok\r\n", "tok"}, // same, written on Windows
		{"tok\n\n", "tok\n\n"},
		{"\n", ""},
		{"", ""},
		{pem, pem}, // multi-line: verbatim, ssh/openssl want the final newline
		{"a\r\nb\r\n", "a\r\nb\r\n"},
	} {
		path := filepath.Join(dir, "s")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		name, value, err := Parse("KEY=@" + path)
		if err != nil || name != "KEY" || value != tc.want {
			t.Errorf("file %q: got %q, %q, %v; want %q", tc.content, name, value, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("s3cr3t", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{
		"s3cr3t-without-name",     // forgot NAME=: the whole arg may be the value
		"=s3cr3t",                 // empty name
		"TOKEN:s3cr3t=more",       // bad name that holds part of the value
		"BAD NAME=s3cr3t",         // space in name
		"KEY=@",                   // empty path
		"KEY=@" + dir + "/absent", // missing file
		"KEY=@" + dir,             // a directory
		"KEY=@" + big,             // too large
	} {
		_, _, err := Parse(arg)
		if err == nil {
			t.Errorf("Parse(%q): no error", arg)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Parse(%q): error reveals the value: %v", arg, err)
		}
	}
	if _, _, err := Parse("=s3cr3t"); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Parse with an empty name: %v", err)
	}
}
