package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/engine/docker"
)

// cacheCmd is `slipway cache ls|rm`: the caches GitLab cache: keeps on
// the Docker Engine between runs.
func cacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List or remove the caches jobs keep between runs (GitLab cache:)",
	}
	cmd.AddCommand(cacheLsCmd(), cacheRmCmd())
	return cmd
}

func cacheLsCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List caches: project, key, size, when last saved",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, list, err := cacheEngine(cmd.Context(), project)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROJECT\tKEY\tSIZE\tLAST SAVED")
			for _, c := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Project, c.Key, humanSize(c.Size), c.Saved.Local().Format(time.DateTime))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "only the caches of the project checked out in DIR")
	return cmd
}

func cacheRmCmd() *cobra.Command {
	var project string
	var all bool
	cmd := &cobra.Command{
		Use:   "rm [KEY...|--all]",
		Short: "Remove the caches with these keys (of every project unless --project), or all of them",
		RunE: func(cmd *cobra.Command, keys []string) error {
			if all == (len(keys) > 0) {
				return invalid(errors.New("cache rm: give cache keys, or --all"))
			}
			eng, list, err := cacheEngine(cmd.Context(), project)
			if err != nil {
				return err
			}
			removed := 0
			var errs []error
			for _, c := range list {
				if !all && !slices.Contains(keys, c.Key) {
					continue
				}
				if err := eng.RemoveCache(cmd.Context(), c.ID); err != nil {
					errs = append(errs, err)
					continue
				}
				removed++
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d cache(s)\n", removed)
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "only the caches of the project checked out in DIR")
	cmd.Flags().BoolVar(&all, "all", false, "remove every cache (of --project, if given)")
	return cmd
}

// cacheEngine is the Docker Engine and its caches, of one project when
// project is set, by project then key, newest first.
func cacheEngine(ctx context.Context, project string) (*docker.Engine, []engine.CacheInfo, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	eng, err := docker.New()
	if err != nil {
		return nil, nil, invalid(err)
	}
	if err := eng.Ping(ctx); err != nil {
		return nil, nil, invalid(err)
	}
	list, err := eng.ListCaches(ctx)
	if err != nil {
		return nil, nil, err
	}
	if project != "" {
		abs, err := filepath.Abs(project)
		if err != nil {
			return nil, nil, invalid(err)
		}
		list = slices.DeleteFunc(list, func(c engine.CacheInfo) bool { return c.Project != abs })
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		return a.Project < b.Project || a.Project == b.Project && (a.Key < b.Key || a.Key == b.Key && a.Saved.After(b.Saved))
	})
	return eng, list, nil
}

// humanSize is a byte count as people read it (1.5 MiB).
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), strings.ToUpper("kmgtpe")[exp])
}
