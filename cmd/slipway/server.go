package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/server"
	"github.com/slipway-ci/slipway/server/gitlabapi"
)

func serverCmd() *cobra.Command {
	var o server.Options
	var addr, registration string
	var lease time.Duration
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the CI server: hosted git repositories, builds, the Drone API and the GitLab Runner API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.DataDir == "" {
				return invalid(fmt.Errorf("--data-dir is required"))
			}
			if registration == "" {
				registration = os.Getenv("SLIPWAY_REGISTRATION_TOKEN")
			}
			o.RunnerAPI = gitlabapi.ForServerWith(gitlabapi.Options{RegistrationToken: registration, Lease: lease})
			if lease > 0 {
				o.LeaseCheck = min(5*time.Second, lease/4) // a lapsed lease is noticed soon after
			}
			return runServer(cmd.Context(), o, addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", "", "directory for the database, the hosted repositories, the secret key and admin.token")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.Database, "database", "", "PostgreSQL URL (postgres://...); default: SQLite under --data-dir")
	f.StringVar(&o.ExternalURL, "external-url", "", "URL runners and users reach the server at (default: http://ADDR)")
	f.DurationVar(&lease, "job-lease", 10*time.Minute, "how long a claimed job stays its runner's without a trace or status call; then it is requeued once, or failed")
	f.StringVar(&registration, "registration-token", "", "legacy runner registration token that gitlab-runner register --registration-token may use (default: $SLIPWAY_REGISTRATION_TOKEN; empty: glrt- tokens only)")
	return cmd
}

// runServer serves until SIGTERM or SIGINT, then shuts down gracefully.
func runServer(ctx context.Context, o server.Options, addr string) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return invalid(err)
	}
	s, err := server.Open(ctx, o)
	if err != nil {
		return invalid(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return invalid(err)
	}
	fmt.Fprintf(os.Stderr, "slipway server: listening on http://%s\n", ln.Addr())
	err = s.Serve(ctx, ln)
	fmt.Fprintln(os.Stderr, "slipway server: stopped")
	return err
}

// runnerCmd groups the runner commands: the server's token create, the
// agent's register and run (runner.go).
func runnerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "runner", Short: "Runners of a slipway server"}
	cmd.AddCommand(runnerTokenCmd(), registerCmd(), runnerRunCmd())
	return cmd
}

// runnerTokenCmd is `slipway runner token create`: an administrator mints
// a glrt- token for a runner to register with.
func runnerTokenCmd() *cobra.Command {
	var url, token string
	var in server.RunnerTokenRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Mint a runner authentication token (glrt-...) on the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := mintRunnerToken(cmd.Context(), url, token, in)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Token)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&url, "server", os.Getenv("SLIPWAY_SERVER"), "server URL (default $SLIPWAY_SERVER)")
	f.StringVar(&token, "token", os.Getenv("SLIPWAY_TOKEN"), "an administrator's API token (default $SLIPWAY_TOKEN)")
	f.StringSliceVar(&in.Tags, "tags", nil, "tags of the jobs the runner takes (comma separated)")
	f.BoolVar(&in.RunUntagged, "run-untagged", false, "the runner also takes jobs without tags")
	f.StringVar(&in.Description, "description", "", "what the runner is")
	cmd := &cobra.Command{Use: "token", Short: "Runner authentication tokens"}
	cmd.AddCommand(create)
	return cmd
}

func mintRunnerToken(ctx context.Context, url, token string, in server.RunnerTokenRequest) (server.RunnerTokenResponse, error) {
	var out server.RunnerTokenResponse
	if url == "" || token == "" {
		return out, invalid(fmt.Errorf("--server and --token (or $SLIPWAY_SERVER and $SLIPWAY_TOKEN) are required"))
	}
	body, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/api/slipway/runners", bytes.NewReader(body))
	if err != nil {
		return out, invalid(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return out, fmt.Errorf("server: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return out, json.Unmarshal(data, &out)
}
