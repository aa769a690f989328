package runner

import (
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// detectShell is the command of a GitLab step: it starts bash when the
// image has it and sh otherwise, and that shell reads the script on stdin
// (as gitlab-runner does).
const detectShell = `if [ -x /usr/local/bin/bash ]; then exec /usr/local/bin/bash; ` +
	`elif [ -x /usr/bin/bash ]; then exec /usr/bin/bash; ` +
	`elif [ -x /bin/bash ]; then exec /bin/bash; ` +
	`else exec sh; fi`

// scriptFor renders a step's commands as the text fed to the shell.
//
// The whole script is one `: | eval '...'` line: the shell reads all of it
// before running anything, and the commands get an empty stdin, so a
// command that reads stdin cannot swallow the rest of the script. The
// eval runs in a subshell; the outer shell catches SIGTERM (which the
// container's init sends to the whole group) only to wait for it: else
// it would die at once, the init with it, and the script's own TERM trap
// would be cut off. A subshell resets caught signals, so the script sees
// TERM as usual.
func scriptFor(st *pipeline.Step) []byte {
	var b strings.Builder
	b.WriteString("set -e\n")
	if st.Shell != pipeline.ShellDrone {
		// pipefail where the shell has it (bash, busybox ash; not every
		// sh). Drone runs sh -e only: "yes | head" passes there.
		b.WriteString("(set -o pipefail) 2>/dev/null && set -o pipefail\n")
	}
	for _, v := range st.Env {
		if v.File {
			// A file variable holds the path of a file with its value,
			// readable only by the step's user: in /tmp, or, in an image
			// without one, beside the checkout as gitlab-runner does
			// (<project>.tmp, outside the workspace and its artifacts). A
			// variable that cannot be written fails the step, saying so.
			fmt.Fprintf(&b, "%[1]s=$(f=$(mktemp 2>/dev/null || { mkdir -p \"$PWD.tmp\" && mktemp -p \"$PWD.tmp\"; }) && "+
				"chmod 600 \"$f\" && printf '%%s' \"$%[1]s\" > \"$f\" && echo \"$f\") || "+
				"{ echo \"slipway: cannot write the file variable %[1]s: the image has no writable temporary directory\" >&2; exit 1; }; export %[1]s\n", v.Name)
		}
	}
	echo := "$ "
	if st.Shell == pipeline.ShellDrone {
		echo = "+ "
	}
	for _, c := range st.Commands {
		b.WriteString("printf '%s\\n' " + quote(echo+c) + "\n")
		b.WriteString(c + "\n")
	}
	return []byte("trap : TERM; : | eval " + quote(b.String()) + "\n")
}

// quote single-quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command returns the entrypoint, command and stdin of a step container.
func command(st *pipeline.Step) (entrypoint, cmd []string, stdin []byte) {
	if st.Detach && len(st.Commands) > 0 {
		// Nothing writes to a background container's stdin: the script
		// is its argument.
		return []string{"/bin/sh", "-c"}, []string{string(scriptFor(st))}, nil
	}
	if len(st.Commands) == 0 {
		// A plugin-style step runs its image's own entrypoint and command.
		return st.Entrypoint, st.Command, nil
	}
	if st.Shell == pipeline.ShellDrone && st.Entrypoint == nil {
		// Drone replaces the entrypoint with the shell when a step has
		// commands.
		return []string{"/bin/sh"}, nil, scriptFor(st)
	}
	return st.Entrypoint, []string{"sh", "-c", detectShell}, scriptFor(st)
}
