package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server/client"
)

func repoCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "repo", Short: "Repositories hosted by the server"}
	var out output
	ls := clientCmd("ls", "List the repositories you own or were given", cobra.NoArgs,
		func(cmd *cobra.Command, c *client.Client, _ []string) error {
			repos, err := c.Repos(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{{"REPOSITORY", "TRUSTED", "GIT"}}
			for _, r := range repos {
				rows = append(rows, []string{r.Slug, strconv.FormatBool(r.Trusted), r.HTTPURL})
			}
			return out.print(cmd.OutOrStdout(), repos, rows)
		})
	out.flag(ls)
	cmd.AddCommand(ls, repoAddCmd(),
		clientCmd("rm OWNER/NAME", "Remove a repository with its builds, secrets and variables", cobra.ExactArgs(1),
			func(cmd *cobra.Command, c *client.Client, args []string) error {
				return c.DeleteRepo(cmd.Context(), args[0])
			}),
		trustCmd("trust", true), trustCmd("untrust", false), hookCmd())
	return cmd
}

func trustCmd(use string, trusted bool) *cobra.Command {
	return clientCmd(use+" OWNER/NAME", "Mark a repository "+use+"ed (administrators only): privileged jobs and host mounts", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			_, err := c.SetTrusted(cmd.Context(), args[0], trusted)
			return err
		})
}

func secretCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Repository secrets (write-only: no value is ever shown)"}
	var pr bool
	add := clientCmd("add OWNER/NAME SECRET VALUE|@FILE", "Add or replace a secret", cobra.ExactArgs(3),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			value, err := valueArg(args[2])
			if err != nil {
				return err
			}
			return c.AddSecret(cmd.Context(), args[0], client.Secret{Name: args[1], Data: value, PullRequest: pr})
		})
	add.Flags().BoolVar(&pr, "allow-pull-request", false, "pull request builds may read it too")
	var out output
	ls := clientCmd("ls OWNER/NAME", "List a repository's secrets", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			secrets, err := c.Secrets(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rows := [][]string{{"NAME", "PULL REQUESTS"}}
			for _, s := range secrets {
				rows = append(rows, []string{s.Name, strconv.FormatBool(s.PullRequest)})
			}
			return out.print(cmd.OutOrStdout(), secrets, rows)
		})
	out.flag(ls)
	cmd.AddCommand(add, ls, clientCmd("rm OWNER/NAME SECRET", "Remove a secret", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			return c.DeleteSecret(cmd.Context(), args[0], args[1])
		}))
	return cmd
}

// valueArg is a value given on the command line, or @FILE's contents.
func valueArg(arg string) (string, error) {
	path, ok := strings.CutPrefix(arg, "@")
	if !ok {
		return arg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", invalid(err)
	}
	return string(data), nil
}

func varCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "var", Short: "Repository variables (GitLab project variables)"}
	var masked bool
	add := clientCmd("add OWNER/NAME NAME VALUE|@FILE", "Add or replace a variable", cobra.ExactArgs(3),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			value, err := valueArg(args[2])
			if err != nil {
				return err
			}
			return c.AddVariable(cmd.Context(), args[0], client.Variable{Name: args[1], Value: value, Masked: masked})
		})
	add.Flags().BoolVar(&masked, "masked", false, "mask the value in job logs and never show it again")
	var out output
	ls := clientCmd("ls OWNER/NAME", "List a repository's variables (masked ones without their value)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			vars, err := c.Variables(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rows := [][]string{{"NAME", "VALUE", "MASKED"}}
			for _, v := range vars {
				if v.Masked {
					v.Value = "[MASKED]"
				}
				rows = append(rows, []string{v.Name, v.Value, strconv.FormatBool(v.Masked)})
			}
			return out.print(cmd.OutOrStdout(), vars, rows)
		})
	out.flag(ls)
	cmd.AddCommand(add, ls, clientCmd("rm OWNER/NAME NAME", "Remove a variable", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			return c.DeleteVariable(cmd.Context(), args[0], args[1])
		}))
	return cmd
}
