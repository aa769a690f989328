package main

import (
	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server/client"
)

// playCmd starts a manual job (GitLab's when: manual), which waits in its
// build until someone plays it.
func playCmd() *cobra.Command {
	var out output
	cmd := clientCmd("play OWNER/NAME NUMBER JOB", "Start a manual job of a build (JOB: its name or number); the build runs again", cobra.ExactArgs(3),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			n, err := buildNumber(args[1])
			if err != nil {
				return err
			}
			b, err := c.PlayJob(cmd.Context(), args[0], n, args[2])
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), b, buildRows([]client.Build{b}))
		})
	out.flag(cmd)
	return cmd
}
