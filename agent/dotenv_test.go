package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDotenvTravelsInTheArchive: a job's dotenv variables go up in its
// archive's comment and come back from it unchanged, beside the files;
// an archive without the comment (a stock uploader's) gives none.
func TestDotenvTravelsInTheArchive(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "build.env"), []byte("VERSION=1.2.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := []string{"VERSION=1.2.3", "URL=https://x.example/?a=b c", "EMPTY="}
	for _, tc := range []struct {
		vars []string
		want []string
	}{{vars, vars}, {nil, nil}} {
		comment, err := commentOf(tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		var zipped bytes.Buffer
		if err := zipDir(&zipped, src, comment); err != nil {
			t.Fatal(err)
		}
		dst := t.TempDir()
		got, err := unzip(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()), dst)
		if err != nil {
			t.Fatal(err)
		}
		if vars := dotenvOf(got); !slices.Equal(vars, tc.want) {
			t.Errorf("dotenv %q came back as %q", tc.want, vars)
		}
		if data, err := os.ReadFile(filepath.Join(dst, "build.env")); err != nil || string(data) != "VERSION=1.2.3\n" {
			t.Errorf("the report file: %q %v", data, err)
		}
	}
	if got := dotenvOf("made by another uploader"); got != nil {
		t.Errorf("a foreign comment gave %q", got)
	}
	if got := dotenvOf(dotenvComment + "\nA=1\nnot a variable\n=x\nB C=2\nD=4"); !slices.Equal(got, []string{"A=1", "D=4"}) {
		t.Errorf("junk lines kept: %q", got)
	}
	if _, err := commentOf([]string{"BIG=" + strings.Repeat("x", 70000)}); err == nil {
		t.Error("a comment larger than zip allows was accepted")
	}
}
