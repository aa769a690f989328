package e2e

import (
	"path/filepath"
	"testing"
)

// The README's examples must keep working.
func TestExamples(t *testing.T) {
	for dir, want := range map[string][]string{
		"gitlab": {"hello from redis\n", "hello from postgres\n", "after_script runs whatever happened\n",
			"This file was copied into the job's workspace.\n", `Job "test" passed`, `Job "report" passed`},
		"drone": {"hello from redis\n", "hello from postgres\n", `Job "default" passed`},
	} {
		t.Run(dir, func(t *testing.T) {
			abs, err := filepath.Abs(filepath.Join("..", "examples", dir))
			if err != nil {
				t.Fatal(err)
			}
			p := &project{t: t, dir: abs}
			r := p.run("exec")
			wantCode(t, r, 0)
			mustContain(t, r, want...)
			mustNotContain(t, r, "WARNING")
		})
	}
}
