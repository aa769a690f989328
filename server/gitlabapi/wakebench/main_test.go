package main

import (
	"strings"
	"testing"
)

// TestRun proves the benchmark works: every poll gets its job (run fails
// otherwise) and every figure is printed.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), &out, 2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"baseline: job already queued", "job queued by the server", "freed by PUT success",
		"of the 1s fallback retry interval"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
