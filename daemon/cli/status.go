package cli

import (
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"
)

func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Show the daemon's and its devices' state; exit 1 when it is down",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			h, err := c.Health(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				err = a.printJSON(h)
			} else {
				tw := table(a.stdout)
				row(tw, "status:", h.Status)
				row(tw, "version:", h.Version)
				row(tw, "uptime:", seconds(h.UptimeSeconds))
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout)
				tw = table(a.stdout)
				row(tw, "DEVICE", "TYPE", "STATE", "DETAIL", "LAST ERROR", "CHECKED")
				for _, d := range h.Devices {
					row(tw, d.Name, d.Type, d.State, d.Detail, d.LastError, a.when(d.CheckedAt))
				}
				err = tw.Flush()
			}
			if err != nil {
				return err
			}
			if h.Status == "down" {
				return &exitCodeError{code: exitError, msg: "smsgw is down"}
			}
			return nil
		}),
	}
}

func (a *app) statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show queue depth, oldest queued age, counts by state, retries and dead letters",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Stats(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(s)
			}
			tw := table(a.stdout)
			row(tw, "queue depth:", fmt.Sprint(s.QueueDepth))
			row(tw, "oldest queued:", seconds(s.OldestQueuedAgeSecs))
			row(tw, "retries:", fmt.Sprint(s.Retries))
			row(tw, "dead letters:", fmt.Sprint(s.DeadLetters))
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout)
			tw = table(a.stdout)
			row(tw, "STATE", "COUNT")
			for _, st := range stateOrder(s.ByState) {
				row(tw, st, fmt.Sprint(s.ByState[st]))
			}
			return tw.Flush()
		}),
	}
}

// stateOrder lists the states of counts in lifecycle order, then any
// others alphabetically.
func stateOrder(counts map[string]int) []string {
	var out []string
	for _, st := range allStates {
		if _, ok := counts[st]; ok {
			out = append(out, st)
		}
	}
	for _, st := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(allStates, st) {
			out = append(out, st)
		}
	}
	return out
}
