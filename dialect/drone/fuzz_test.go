package drone

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// FuzzParse: no input makes Parse panic or hang, and what it returns is
// consistent: a pipeline xor an error made of positioned *pipeline.Error.
// Seeds: every golden input and every error test; the corpus the fuzzer
// found interesting is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range errorTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, warns, err := Parse("f.yml", data, Context{})
		if (pl == nil) == (err == nil) {
			t.Fatalf("pipeline %v with error %v", pl, err)
		}
		for _, w := range warns {
			if w.Pos.File != "f.yml" {
				t.Fatalf("warning without file: %v", w)
			}
		}
		if err != nil {
			checkErrors(t, err)
			return
		}
		if len(pl.Jobs()) == 0 && !skippedAny(warns) {
			t.Fatal("a pipeline without jobs, and no warning says what was skipped")
		}
		checkPipeline(t, pl)
	})
}

func checkErrors(t *testing.T, err error) {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		var pe *pipeline.Error
		if !errors.As(err, &pe) {
			t.Fatalf("error %T is not a *pipeline.Error: %v", err, err)
		}
		return
	}
	for _, e := range joined.Unwrap() {
		var pe *pipeline.Error
		if !errors.As(e, &pe) || pe.Pos.File != "f.yml" {
			t.Fatalf("error %T is not a positioned *pipeline.Error: %v", e, e)
		}
	}
}

// skippedAny: a condition left a pipeline out (then a file may have
// nothing to run in this context).
func skippedAny(warns []*pipeline.Warning) bool {
	for _, w := range warns {
		if strings.Contains(w.Msg, " is skipped: ") {
			return true
		}
	}
	return false
}

func checkPipeline(t *testing.T, pl *pipeline.Pipeline) {
	for _, j := range pl.Jobs() {
		for _, s := range j.Steps {
			if s.Name == "" || s.Image.Ref == "" {
				t.Fatalf("step %q with image %q", s.Name, s.Image.Ref)
			}
		}
		for _, s := range j.Services {
			if s.Name == "" || s.Image.Ref == "" {
				t.Fatalf("service %q with image %q", s.Name, s.Image.Ref)
			}
		}
	}
	if _, err := json.Marshal(pl); err != nil {
		t.Fatalf("cannot marshal: %v", err)
	}
}
