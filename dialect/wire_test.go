package dialect_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/dialect/drone"
	"github.com/slipway-ci/slipway/dialect/gitlab"
	"github.com/slipway-ci/slipway/pipeline"
)

// TestDocumentRoundTrip sends every golden input of both dialects through
// the wire form and requires exactly the parsed pipeline back, inline
// registry credentials included, and those never in the pipeline's JSON.
func TestDocumentRoundTrip(t *testing.T) {
	var files []string
	for _, pat := range []string{"gitlab/testdata/*.yml", "drone/testdata/*.yml"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d golden inputs found", len(files))
	}
	withCreds := 0
	for _, f := range files {
		p, err := parse(t, f)
		if err != nil {
			continue // a golden file of errors: nothing travels
		}
		doc, err := pipeline.NewDocument(p)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		data, err := doc.Encode()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		back, err := pipeline.DecodeDocument(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(back.Pipeline, p) {
			t.Errorf("%s: the pipeline read back differs from the one sent", f)
		}
		if len(doc.Credentials) > 0 {
			withCreds++
			checkCredentialsApart(t, f, p, data)
		}
	}
	if withCreds == 0 {
		t.Error("no golden input has inline credentials: the credentials part of the wire form went untested")
	}
}

// parse reads a golden input with its directory's dialect.
func parse(t *testing.T, f string) (*pipeline.Pipeline, error) {
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(f, "drone/") {
		ctx := drone.Context{Branch: "main", Event: "push", Ref: "refs/heads/main", Repo: "group/project"}
		p, _, err := drone.Parse(filepath.Base(f), data, ctx)
		return p, err
	}
	p, _, err := gitlab.Parse(filepath.Base(f), data, gitlab.Options{ProjectPath: "group/project"})
	return p, err
}

// checkCredentialsApart requires the values of inline credentials to be in
// the document's credentials field only, and a document without them to
// be refused.
func checkCredentialsApart(t *testing.T, f string, p *pipeline.Pipeline, data []byte) {
	t.Helper()
	model, err := (&pipeline.Document{Pipeline: p}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range p.Jobs() {
		for _, st := range j.Steps {
			if a := st.Image.Auth; a != nil && strings.Contains(string(model), a.Password) {
				t.Errorf("%s: the pipeline's JSON carries the password of %s", f, a.Name)
			}
		}
	}
	_, err = pipeline.DecodeDocument(model)
	if err == nil || !strings.Contains(err.Error(), "does not carry") {
		t.Errorf("%s: a document without its credentials was read: %v", f, errors.Unwrap(err))
	}
	if !strings.Contains(string(data), `"credentials"`) {
		t.Errorf("%s: the document has no credentials field", f)
	}
}
