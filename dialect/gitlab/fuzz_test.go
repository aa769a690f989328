package gitlab

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"github.com/slipway-ci/slipway/pipeline"
)

// FuzzParse checks that no input panics, that every error and warning
// is a *pipeline.Error positioned in the file, and that a successful
// parse yields a usable pipeline.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range errorCases {
		if len(c.in) < 1<<16 {
			f.Add([]byte(c.in))
		}
	}
	const file = "fuzz.yml"
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, warns, err := Parse(file, data, Options{ProjectPath: "g/p"})
		for _, w := range warns {
			checkPositioned(t, file, w)
		}
		if err != nil {
			if pl != nil {
				t.Fatal("pipeline returned with an error")
			}
			for _, e := range yamlutil.Errors(err) {
				var pe *pipeline.Error
				if !errors.As(e, &pe) {
					t.Fatalf("%v is a %T, not a *pipeline.Error", e, e)
				}
				checkPositioned(t, file, pe)
			}
			return
		}
		checkPipeline(t, pl)
	})
}

func checkPositioned(t *testing.T, file string, e *pipeline.Error) {
	t.Helper()
	if e.Pos.File != file || e.Pos.Line < 1 || e.Pos.Column < 1 {
		t.Fatalf("badly positioned: %q at %+v", e.Msg, e.Pos)
	}
	if !strings.HasPrefix(e.Error(), file+":") {
		t.Fatalf("%q does not start with the file name", e.Error())
	}
}

func checkPipeline(t *testing.T, pl *pipeline.Pipeline) {
	t.Helper()
	if pl == nil || len(pl.Jobs()) == 0 {
		t.Fatal("no error and no jobs")
	}
	for _, j := range pl.Jobs() {
		if len(j.Steps) == 0 || len(j.Steps[0].Commands) == 0 {
			t.Fatalf("job %s has no script", j.Name)
		}
	}
	if _, err := json.Marshal(pl); err != nil {
		t.Fatal(err)
	}
}
