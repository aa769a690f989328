// Command slipway runs .gitlab-ci.yml and .drone.yml pipelines in
// containers. This package holds flags and wiring only.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailed   = 1
	exitInvalid  = 2
	exitCanceled = 130
)

// exitError carries an exit status up to main; its message is printed as
// one line on stderr (never a stack trace).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func invalid(err error) error { return &exitError{code: exitInvalid, err: err} }

func main() {
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Run .gitlab-ci.yml and .drone.yml pipelines in containers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(execCmd(), lintCmd(), gcCmd(), serverCmd(), runnerCmd(),
		loginCmd(), repoCmd(), secretCmd(), varCmd(), buildCmd(), cacheCmd())
	err := root.Execute()
	if err == nil {
		return
	}
	code := exitInvalid
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "slipway: "+capLines(msg, maxErrorLines))
	}
	os.Exit(code)
}

// maxErrorLines caps an error as the dialects cap their warnings: a file
// of 100,000 jobs with a problem each would print megabytes, which no one
// reads problem by problem.
const maxErrorLines = 100

// capLines keeps the first max lines of msg and says how many are left out.
func capLines(msg string, max int) string {
	n := strings.Count(msg, "\n") + 1
	if n <= max {
		return msg
	}
	i := 0
	for range max {
		i += strings.IndexByte(msg[i:], '\n') + 1
	}
	return fmt.Sprintf("%s(%d more lines not shown)", msg[:i], n-max)
}
