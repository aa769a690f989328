package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server/client"
)

func buildCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Builds of a repository hosted by the server"}
	var ref string
	var startOut, lsOut output
	start := clientCmd("start OWNER/NAME", "Build a branch or tag of the repository, as a push of it would", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			b, err := c.StartBuild(cmd.Context(), args[0], ref)
			if err != nil {
				return err
			}
			return startOut.print(cmd.OutOrStdout(), b, buildRows([]client.Build{b}))
		})
	start.Flags().StringVar(&ref, "ref", "", "branch or tag (default: the default branch)")
	startOut.flag(start)
	ls := clientCmd("ls OWNER/NAME", "List the latest builds, newest first", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			builds, err := c.Builds(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return lsOut.print(cmd.OutOrStdout(), builds, buildRows(builds))
		})
	lsOut.flag(ls)
	cancel := clientCmd("cancel OWNER/NAME NUMBER", "Cancel a build: its running jobs are stopped", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			n, err := buildNumber(args[1])
			if err != nil {
				return err
			}
			b, err := c.CancelBuild(cmd.Context(), args[0], n)
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "build %d: %s\n", b.Number, b.Status)
			}
			return err
		})
	cmd.AddCommand(start, ls, logsCmd(), cancel, restartCmd(), playCmd())
	return cmd
}

func buildNumber(arg string) (int64, error) {
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 1 {
		return 0, invalid(fmt.Errorf("build number %q: want a number from 1 on", arg))
	}
	return n, nil
}

func buildRows(builds []client.Build) [][]string {
	rows := [][]string{{"BUILD", "STATUS", "EVENT", "REF", "COMMIT", "BY", "CREATED"}}
	for _, b := range builds {
		commit := b.Commit
		if len(commit) > 8 {
			commit = commit[:8]
		}
		created := ""
		if b.Created > 0 {
			created = time.Unix(b.Created, 0).Format(time.DateTime)
		}
		rows = append(rows, []string{strconv.FormatInt(b.Number, 10), b.Status, b.Event, b.Ref, commit, b.Sender, created})
	}
	return rows
}

func logsCmd() *cobra.Command {
	var follow bool
	cmd := clientCmd("logs OWNER/NAME NUMBER [JOB]", "Print a build's job logs (JOB: a name or number; default: every job)", cobra.RangeArgs(2, 3),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			n, err := buildNumber(args[1])
			if err != nil {
				return err
			}
			b, err := c.Build(cmd.Context(), args[0], n)
			if err != nil {
				return err
			}
			jobs, err := pickJobs(b, args[2:])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, j := range jobs {
				if len(jobs) > 1 {
					fmt.Fprintf(w, "==> %s\n", j.Name)
				}
				if err := jobLog(cmd, c, args[0], n, j, follow, w); err != nil {
					return err
				}
			}
			return nil
		})
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log as it grows, until the job is done")
	return cmd
}

// pickJobs is the job the argument names, or every job.
func pickJobs(b client.Build, args []string) ([]client.Job, error) {
	if len(args) == 0 {
		return b.Jobs, nil
	}
	for _, j := range b.Jobs {
		if j.Name == args[0] || strconv.Itoa(j.Number) == args[0] {
			return []client.Job{j}, nil
		}
	}
	return nil, invalid(fmt.Errorf("build %d has no job %s", b.Number, args[0]))
}

func jobLog(cmd *cobra.Command, c *client.Client, slug string, n int64, j client.Job, follow bool, w io.Writer) error {
	if !follow {
		return c.Log(cmd.Context(), slug, n, j.Number, w)
	}
	status, err := c.Follow(cmd.Context(), slug, n, strconv.Itoa(j.Number), w)
	if err == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", j.Name, status)
	}
	return err
}
