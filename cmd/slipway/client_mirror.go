package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server/client"
)

func repoAddCmd() *cobra.Command {
	var cloneURL string
	cmd := clientCmd("add OWNER/NAME [--clone-url URL]", "Add a repository: push to its git URL to build, or mirror a remote and build on its push webhook", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			if cloneURL == "" {
				r, err := c.AddRepo(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: git push %s\n", r.Slug, r.HTTPURL)
				}
				return err
			}
			r, err := c.AddMirror(cmd.Context(), args[0], cloneURL)
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s mirrors %s: set its push webhook with slipway repo hook %s\n", r.Slug, r.CloneURL, r.Slug)
			}
			return err
		})
	cmd.Flags().StringVar(&cloneURL, "clone-url", "", "mirror this remote (an http(s) git URL; administrators: also a path or file:// URL)")
	return cmd
}

func hookCmd() *cobra.Command {
	var secret string
	var show, remove bool
	cmd := clientCmd("hook OWNER/NAME [--secret VALUE|@FILE]", "Set a mirror's webhook secret and print the URL for GitHub, Gitea or GitLab (the secret is shown once)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			w := cmd.OutOrStdout()
			switch {
			case remove:
				return c.DeleteHook(cmd.Context(), args[0])
			case show:
				h, err := c.Hook(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(w, "URL:    %s\nSecret: set=%t (never shown again; set a new one to change it)\n", h.URL, h.SecretSet)
				}
				return err
			}
			value, err := valueArg(secret)
			if err != nil {
				return err
			}
			h, err := c.SetHook(cmd.Context(), args[0], value)
			if err == nil {
				fmt.Fprintf(w, "URL:    %s\nSecret: %s\n", h.URL, h.Secret)
				fmt.Fprintln(cmd.ErrOrStderr(), "Content type application/json, push events; the secret is not shown again.")
			}
			return err
		})
	cmd.Flags().StringVar(&secret, "secret", "", "the secret to use (default: a new random one)")
	cmd.Flags().BoolVar(&show, "show", false, "print the URL and whether a secret is set; change nothing")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the secret: every webhook is refused until a new one is set")
	cmd.MarkFlagsMutuallyExclusive("secret", "show", "remove")
	return cmd
}

func restartCmd() *cobra.Command {
	var out output
	cmd := clientCmd("restart OWNER/NAME NUMBER", "Start a new build of a build's commit and ref", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			n, err := buildNumber(args[1])
			if err != nil {
				return err
			}
			b, err := c.RestartBuild(cmd.Context(), args[0], n)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), b, buildRows([]client.Build{b}))
		})
	out.flag(cmd)
	return cmd
}
