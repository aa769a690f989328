package main

import (
	"github.com/spf13/cobra"
)

func lintCmd() *cobra.Command {
	o := options{lint: true}
	cmd := &cobra.Command{
		Use:   "lint [job...]",
		Short: "Parse and check a pipeline file and print what would run; runs nothing",
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := o.load(args)
			if err != nil {
				return err
			}
			out := l.masker.Writer(cmd.OutOrStdout())
			l.plan.Print(out)
			return out.Close()
		},
	}
	o.register(cmd)
	return cmd
}
