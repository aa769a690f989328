package secretbox

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s1, err := b.Seal([]byte("hunter2"), []byte("repo 1/PW"))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Seal([]byte("hunter2"), []byte("repo 1/PW"))
	if bytes.Contains(s1, []byte("hunter2")) || bytes.Equal(s1, s2) {
		t.Fatalf("sealed values must be opaque and differ per seal: %x %x", s1, s2)
	}
	got, err := b.Open(s1, []byte("repo 1/PW"))
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(s1, []byte("repo 2/PW")); err == nil {
		t.Fatal("a value moved to another row must not open")
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(s1, []byte("repo 1/PW")); err == nil {
		t.Fatal("another key must not open it")
	}
	if _, err := b.Open(s1[:5], nil); err == nil {
		t.Fatal("a truncated value must not open")
	}
}

func TestNewKeySize(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key must be refused")
	}
}

func TestLoadCreatesKeyFileOnce(t *testing.T) {
	t.Setenv(EnvKey, "")
	os.Unsetenv(EnvKey)
	path := filepath.Join(t.TempDir(), "secret.key")
	b1, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", info, err)
	}
	sealed, _ := b1.Seal([]byte("v"), nil)
	b2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Open(sealed, nil); err != nil || string(got) != "v" {
		t.Fatalf("the second Load must read the same key: %q %v", got, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key file readable by others: %v", err)
	}
}

func TestLoadFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{9}, KeySize)
	t.Setenv(EnvKey, base64.StdEncoding.EncodeToString(key))
	path := filepath.Join(t.TempDir(), "secret.key")
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("with the key in the environment no file is written: %v", err)
	}
	want, _ := New(key)
	sealed, _ := want.Seal([]byte("x"), nil)
	if _, err := b.Open(sealed, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvKey, "c2hvcnQ=")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("a short key: %v", err)
	}
}
