package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

// helperName is what may follow docker-credential-: a config.json can come
// from a job variable, and a slash would let it run any program by path.
var helperName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// tokenUsername is the username helpers store an identity token under.
const tokenUsername = "<token>"

// fromHelper asks docker-credential-NAME for host's credentials, using
// docker-credential-helpers' client for the protocol. ok is false when the
// helper has none ("credentials not found in native keychain"). where says
// which config named the helper, for errors.
func fromHelper(ctx context.Context, name, host, where string) (Auth, bool, error) {
	if !helperName.MatchString(name) {
		return Auth{}, false, fmt.Errorf("%s: %q is not a credential helper name", where, name)
	}
	run := &helperRun{ctx: ctx, prog: "docker-credential-" + name}
	creds, err := client.Get(run.program, authKey(host))
	if credentials.IsErrCredentialsNotFound(err) {
		return Auth{}, false, nil
	}
	if err != nil {
		return Auth{}, false, run.failure(host, where)
	}
	a := Auth{Username: creds.Username, Password: creds.Secret, ServerAddress: authKey(host)}
	if creds.Username == tokenUsername {
		a = Auth{IdentityToken: creds.Secret, ServerAddress: authKey(host)}
	}
	return a, !a.IsZero(), nil
}

// helperRun is a client.Program that remembers how the run failed, so that
// errors can say so without the helper's output: client.Get puts that
// output in its error, and a misbehaving helper may print a secret there.
type helperRun struct {
	ctx  context.Context
	prog string
	cmd  *exec.Cmd
	err  error
}

func (h *helperRun) program(args ...string) client.Program {
	h.cmd = exec.CommandContext(h.ctx, h.prog, args...)
	return h
}

func (h *helperRun) Input(in io.Reader) { h.cmd.Stdin = in }

// Output leaves Stderr unset, so the helper's stderr is captured into the
// exit error, which we never print, rather than reaching our logs.
func (h *helperRun) Output() ([]byte, error) {
	out, err := h.cmd.Output()
	h.err = err
	return out, err
}

func (h *helperRun) failure(host, where string) error {
	why := "it answered something that is not credentials JSON"
	switch {
	case h.ctx.Err() != nil:
		why = h.ctx.Err().Error()
	case errors.Is(h.err, exec.ErrNotFound):
		why = "it is not in $PATH"
	case h.err != nil:
		why = h.err.Error() + "; try: echo " + authKey(host) + " | " + h.prog + " get"
	}
	return fmt.Errorf("credential helper %s (%s) failed for %s: %s", h.prog, where, host, why)
}
