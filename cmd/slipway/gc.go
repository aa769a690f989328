package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/config"
	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
	"github.com/slipway-ci/slipway/engine/kube"
	"github.com/slipway-ci/slipway/runner"
)

func gcCmd() *cobra.Command {
	var kubeconfig, cfgPath, artifacts string
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove containers, networks, volumes (and pods) left by killed slipway runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := context.Background()
			engs, err := gcEngines(ctx, kubeconfig, cfgPath)
			if err != nil {
				return err
			}
			total := 0
			for _, e := range engs {
				n, err := e.Collect(ctx)
				if err != nil {
					return err
				}
				total += n
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed what %d run(s) left behind\n", total)
			return removeExpired(cmd, artifacts)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "also collect on this Kubernetes cluster")
	cmd.Flags().StringVar(&artifacts, "artifacts-dir", filepath.Join(".slipway", "artifacts"), "also remove the artifacts kept in DIR whose expire_in has passed")
	cmd.Flags().StringVar(&cfgPath, "config", "", "runner configuration; with executor = \"kubernetes\" its cluster is collected too")
	return cmd
}

// gcEngines is Docker, plus Kubernetes when a kubeconfig or a Kubernetes
// executor is given.
func gcEngines(ctx context.Context, kubeconfig, cfgPath string) ([]engine.Engine, error) {
	dock, err := docker.New()
	if err != nil {
		return nil, invalid(err)
	}
	if err := dock.Ping(ctx); err != nil {
		return nil, invalid(err)
	}
	engs := []engine.Engine{dock}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, invalid(err)
	}
	if kubeconfig == "" && cfg.Runner().Executor != "kubernetes" {
		return engs, nil
	}
	kcfg, err := kubeConfig(cfg.Runner().Kubernetes, kubeconfig)
	if err != nil {
		return nil, invalid(err)
	}
	k, err := kube.New(kcfg)
	if err != nil {
		return nil, invalid(err)
	}
	if err := k.Ping(ctx); err != nil {
		return nil, invalid(err)
	}
	return append(engs, k), nil
}

// removeExpired removes the artifacts in dir whose expire_in has passed;
// a dir that does not exist holds none.
func removeExpired(cmd *cobra.Command, dir string) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	n, err := runner.RemoveExpired(dir, time.Now())
	if err != nil {
		return fmt.Errorf("remove expired artifacts in %s: %w", dir, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "removed %d expired artifact director%s in %s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1], dir)
	return nil
}
