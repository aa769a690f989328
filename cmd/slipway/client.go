package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server/client"
)

// credentials are what `slipway login` keeps for the commands that call a
// server.
type credentials struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

// credentialsPath is ~/.config/slipway/credentials (or under
// $XDG_CONFIG_HOME).
func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "slipway", "credentials"), nil
}

// connect is the client of the saved login, with $SLIPWAY_SERVER and
// $SLIPWAY_TOKEN taking precedence.
func connect() (*client.Client, error) {
	var c credentials
	path, err := credentialsPath()
	if err == nil {
		var data []byte
		data, err = os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &c)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, invalid(fmt.Errorf("%s: %w (run slipway login again)", path, err))
	}
	if v := os.Getenv("SLIPWAY_SERVER"); v != "" {
		c.Server = v
	}
	if v := os.Getenv("SLIPWAY_TOKEN"); v != "" {
		c.Token = v
	}
	if c.Server == "" || c.Token == "" {
		return nil, invalid(fmt.Errorf("no server to call: run slipway login URL --token TOKEN, or set SLIPWAY_SERVER and SLIPWAY_TOKEN"))
	}
	return &client.Client{URL: c.Server, Token: c.Token}, nil
}

func loginCmd() *cobra.Command {
	var token string
	cmd := &cobra.Command{
		Use:   "login URL --token TOKEN",
		Short: "Check an API token with a server and save both for the commands that call it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				return invalid(fmt.Errorf("--token is required (the server's admin.token, or a user's API token)"))
			}
			c := &client.Client{URL: strings.TrimRight(args[0], "/"), Token: token}
			u, err := c.User(cmd.Context())
			if err != nil {
				return invalid(fmt.Errorf("login to %s: %w", c.URL, err))
			}
			path, err := saveCredentials(credentials{Server: c.URL, Token: token})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s; saved in %s\n", c.URL, u.Login, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "API token")
	return cmd
}

// saveCredentials writes the file only its owner can read: it holds a
// token.
func saveCredentials(c credentials) (string, error) {
	path, err := credentialsPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return "", err
	}
	// WriteFile keeps the mode of a file that exists: make sure.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// output prints a command's result as a table or as JSON.
type output struct {
	format string
}

func (o *output) flag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "table", "table, or json for scripts")
}

// print writes v as JSON, or the rows (the first is the header) as a table.
func (o *output) print(w io.Writer, v any, rows [][]string) error {
	switch o.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
	return invalid(fmt.Errorf("--format %q: want table or json", o.format))
}

// clientCmd is a command that calls the server: run gets the client.
func clientCmd(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, c *client.Client, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			return run(cmd, c, a)
		},
	}
}
