package postgres

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/slipway-ci/slipway/server/secretbox"
	"github.com/slipway-ci/slipway/server/store"
	"github.com/slipway-ci/slipway/server/store/storetest"
)

// EnvURL names the variable with the test database's URL (scripts/postgres.sh env).
const EnvURL = "SLIPWAY_TEST_POSTGRES"

// baseURL is the test database, or the test ends: in CI a missing database
// is a failure (PostgreSQL is part of the CI set-up), elsewhere a skip.
func baseURL(t *testing.T) string {
	u := os.Getenv(EnvURL)
	if u != "" {
		return u
	}
	msg := "$" + EnvURL + " is not set; run: scripts/postgres.sh start && eval \"$(scripts/postgres.sh env)\""
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// freshSchema is an empty schema for one test, dropped after it.
func freshSchema(t *testing.T, base string) string {
	u, drop, err := CreateSchema(t.Context(), base, "t_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return u
}

func open(t *testing.T) storetest.Backend {
	box, err := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), freshSchema(t, baseURL(t)), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return storetest.Backend{Store: s, Raw: s.Raw()}
}

func TestConformance(t *testing.T) {
	baseURL(t)
	storetest.Run(t, open)
}

// TestOpenTwice: a second server on a migrated database migrates nothing
// and sees the data.
func TestOpenTwice(t *testing.T) {
	u := freshSchema(t, baseURL(t))
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	s1, err := Open(t.Context(), u, box)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := Open(t.Context(), u, box)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s1.CreateUser(t.Context(), store.User{Login: "admin", Admin: true}, "tok"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.UserByToken(t.Context(), "tok"); err != nil {
		t.Fatalf("the second store does not see the first's user: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	if _, err := Open(t.Context(), "postgres://nobody:x@127.0.0.1:1/none?connect_timeout=2", box); err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
}
