package sqlite

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/storetest"
)

func open(t *testing.T) storetest.Backend {
	box, err := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return storetest.Backend{Store: s, Raw: s.Raw()}
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// TestReopen: the schema is migrated once, and what was written is there
// after a restart.
func TestReopen(t *testing.T) {
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	path := filepath.Join(t.TempDir(), "slipway.db")
	s, err := Open(t.Context(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRunner(t.Context(), store.Runner{Description: "x"}, "glrt-x"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.RunnerByToken(t.Context(), "glrt-x"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	var mode string
	if err := s.Raw().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var pages int
	if err := s.Raw().QueryRow("PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != 4096 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 4096", pages, err)
	}
}

func TestOpenRefusesURIPath(t *testing.T) {
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "a?mode=ro"), box); err == nil {
		t.Fatal("a path with ? was opened")
	}
}
