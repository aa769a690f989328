package secret

import (
	"fmt"
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
	var s Set
	if err := s.Add("", "s3cr3t"); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Add with empty name: %v", err)
	}
}

func TestSet(t *testing.T) {
	var s Set // zero value usable
	for _, arg := range []string{"B=hunter2", "A=first", "A=swordfish"} {
		if err := s.Set(arg); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok := s.Lookup("A"); !ok || v != "swordfish" {
		t.Errorf("Lookup(A) = %q, %v; last flag should win", v, ok)
	}
	if _, ok := s.Lookup("C"); ok {
		t.Error("Lookup(C) found a secret")
	}
	if got := strings.Join(s.Names(), ","); got != "A,B" || s.Len() != 2 {
		t.Errorf("Names = %s, Len = %d", got, s.Len())
	}
	for _, format := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x"} {
		out := fmt.Sprintf(format, &s)
		if strings.Contains(out, "hunter2") || strings.Contains(out, "swordfish") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("Sprintf(%q) reveals a value: %s", format, out)
		}
	}
	if got := s.Masker().String("pw hunter2 swordfish first"); got != "pw [MASKED] [MASKED] first" {
		t.Errorf("Set.Masker: %q", got)
	}
	var nilSet *Set
	_ = nilSet.String()
}
