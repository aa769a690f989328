package gitlab

import (
	"strings"
	"testing"
)

var exprVars = map[string]string{
	"CI_COMMIT_BRANCH":   "main",
	"CI_DEFAULT_BRANCH":  "main",
	"CI_PIPELINE_SOURCE": "push",
	"EMPTY":              "",
	"RE":                 "/^ma/",
	"NOT_RE":             "ma",
	"PATH_LIKE":          "a/b/c",
}

func exprLookup(name string) (string, bool) {
	v, ok := exprVars[name]
	return v, ok
}

func TestEvalExpr(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`$CI_COMMIT_BRANCH == "main"`, true},
		{`$CI_COMMIT_BRANCH == 'main'`, true},
		{`${CI_COMMIT_BRANCH} == "main"`, true},
		{`"main" == $CI_COMMIT_BRANCH`, true},
		{`$CI_COMMIT_BRANCH != "main"`, false},
		{`$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`, true},
		{`$CI_COMMIT_TAG`, false},
		{`$CI_COMMIT_BRANCH`, true},
		{`$EMPTY`, false},
		{`$EMPTY == ""`, true},
		{`$EMPTY == null`, false},
		{`$UNDEFINED == null`, true},
		{`$UNDEFINED == ""`, false},
		{`$UNDEFINED != null`, false},
		{`null == null`, true},
		{`$CI_COMMIT_BRANCH =~ /^ma/`, true},
		{`$CI_COMMIT_BRANCH =~ /^MA/`, false},
		{`$CI_COMMIT_BRANCH =~ /^MA/i`, true},
		{`$CI_COMMIT_BRANCH !~ /^ma/`, false},
		{`$UNDEFINED =~ /.*/`, false},
		{`$UNDEFINED !~ /x/`, true},
		{`$PATH_LIKE =~ /a\/b/`, true},
		{`$CI_COMMIT_BRANCH =~ $RE`, true},
		{`$CI_COMMIT_BRANCH =~ $NOT_RE`, false},
		{`$CI_COMMIT_BRANCH =~ "/^ma/"`, true},
		{`$A || $CI_COMMIT_BRANCH`, true},
		{`$CI_COMMIT_BRANCH && $UNDEFINED`, false},
		// && binds tighter than ||.
		{`$CI_COMMIT_BRANCH || $UNDEFINED && $UNDEFINED`, true},
		{`($CI_COMMIT_BRANCH || $UNDEFINED) && $UNDEFINED`, false},
		{`$CI_PIPELINE_SOURCE == "push" && ($CI_COMMIT_BRANCH == "dev" || $CI_COMMIT_BRANCH =~ /^m/)`, true},
		{`$CI_PIPELINE_SOURCE == "merge_request_event"`, false},
		{`(((($CI_COMMIT_BRANCH))))`, true},
		{"$CI_COMMIT_BRANCH\n  == \"main\"", true},
		{`$CI_COMMIT_BRANCH == "ma" || $CI_COMMIT_BRANCH=~/n$/`, true},
	} {
		got, err := evalExpr(c.in, exprLookup)
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, "column 1: expected $VARIABLE"},
		{`$A ==`, "column 6: expected $VARIABLE, a quoted string, null, /regex/ or (, found end of expression"},
		{`$A == "x`, `column 7: string not closed`},
		{`$A =~ /x`, "column 7: regular expression not closed"},
		{`$A =~ /(/`, "invalid regular expression"},
		{`$A =~ /x/g`, `flag 'g' is not supported`},
		{`($A`, "expected ) to close the ( at column 1"},
		{`$A == "x")`, `column 10: unexpected ")"`},
		{`$A = "x"`, `column 4: unexpected "="`},
		{`$ == "x"`, "expected a variable name after $"},
		{`${A`, "expected ${NAME}"},
		{`$A == ($B)`, "== needs a value on its right"},
		{`$A $B`, "column 4: unexpected $B"},
		{`true`, `unexpected "t"`},
		{strings.Repeat("(", 100) + "$A" + strings.Repeat(")", 100), "nested more than 64 deep"},
		{strings.Repeat("$A||", 2000), "longer than 4096"},
	} {
		_, err := parseExpr(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

// FuzzExpr: any input parses or fails without panicking, and what parses
// evaluates without panicking.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		`$CI_COMMIT_BRANCH == "main"`, `$A =~ /x\/y/i && ($B || $C != null)`,
		`${A} !~ $RE`, `(((`, `"unterminated`, `/re/ims == 'x'`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseExpr(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		e.eval(exprLookup)
	})
}
