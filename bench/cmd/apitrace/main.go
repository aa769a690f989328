// Command apitrace runs a command with DOCKER_HOST pointing at a logging
// proxy in front of the Docker Engine, then prints every API call the
// command made with its start offset and duration (to stderr):
//
//	go run ./bench/cmd/apitrace slipway exec -f .gitlab-ci.yml
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/slipway-ci/slipway/bench/internal/apitrace"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: apitrace COMMAND [ARG...]")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "apitrace")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer os.RemoveAll(dir)
	tr, err := apitrace.Start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+tr.Sock)
	tr.Reset()
	err = cmd.Run()
	tr.Close()
	fmt.Fprint(os.Stderr, "API calls:\n"+tr.Report())
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
