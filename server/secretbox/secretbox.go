// Package secretbox seals the server's secret values at rest with AES-256-GCM
// under one key, kept in a file (DIR/secret.key) or given in the environment.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// EnvKey names the environment variable that can hold the key (base64 of
// 32 bytes); it takes precedence over the key file.
const EnvKey = "SLIPWAY_SECRET_KEY"

// KeySize is the key length: AES-256.
const KeySize = 32

// version leads every sealed value, so a later key or cipher change can
// tell old values from new.
const version = 1

// Box seals and opens values with one key. It implements store.Sealer.
type Box struct {
	aead cipher.AEAD
}

// New makes a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext with a fresh random nonce; aad is authenticated
// but not stored (the caller passes the same when opening).
func (b *Box) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return b.aead.Seal(out, out[1:], plaintext, aad), nil
}

// Open decrypts what Seal returned for the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("sealed value is malformed")
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, errors.New("sealed value does not open with this key (wrong key, or the value was moved or changed)")
	}
	return plain, nil
}

// Load makes the server's Box: the key from $SLIPWAY_SECRET_KEY if set,
// else from the file at path, which is created with a new random key
// (mode 0600) if it does not exist.
func Load(path string) (*Box, error) {
	if v, ok := os.LookupEnv(EnvKey); ok {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", EnvKey, err)
		}
		return New(key)
	}
	key, err := loadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return New(key)
}

func loadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: readable by others (mode %v); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	key, err := decodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new key; O_EXCL keeps two servers starting at once
// from each writing its own.
func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the secret key: %w", err)
	}
	_, err = fmt.Fprintln(f, base64.StdEncoding.EncodeToString(key))
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("write the secret key %s: %w", path, err)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("the secret key is not base64: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("the secret key has %d bytes, want %d (base64 of 32 random bytes, e.g. head -c32 /dev/urandom | base64)", len(key), KeySize)
	}
	return key, nil
}
