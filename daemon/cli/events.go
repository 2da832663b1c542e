package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"smsgw/daemon/client"
)

func (a *app) eventsCmd() *cobra.Command {
	var after string
	var follow bool
	cmd := &cobra.Command{
		Use:   "events [--after ID] [--follow]",
		Short: "Print message and device events from the daemon's event feed",
		Long: "Print events from the daemon's event feed, one per line, oldest first.\n" +
			"--after 0 replays the whole retained feed; without --after only new events are shown.\n" +
			"--follow keeps reading, reconnecting after the last event seen, until interrupted.",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			last := after
			print := func(ev client.FeedEvent) error {
				last = client.EventID(ev.ID)
				if a.json {
					return a.printJSON(ev)
				}
				fmt.Fprintln(a.stdout, eventLine(ev, a.loc))
				return nil
			}
			for {
				err := c.Events(cmd.Context(), last, print)
				if !follow || cmd.Context().Err() != nil {
					if errors.Is(err, context.Canceled) {
						return nil
					}
					return err
				}
				var nr *client.NotRunningError
				if err != nil && !errors.As(err, &nr) {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		}),
	}
	cmd.Flags().StringVar(&after, "after", "", "start after this event id (0: the whole retained feed)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep following, reconnecting when the daemon restarts")
	return cmd
}

// eventLine formats one event for people.
func eventLine(ev client.FeedEvent, loc *time.Location) string {
	at := ev.At.In(loc).Format("2006-01-02 15:04:05")
	switch ev.Kind {
	case "message.status":
		from := ev.From
		if from == "" {
			from = "-"
		}
		line := fmt.Sprintf("%d  %s  %s  %s → %s  %s", ev.ID, at, ev.MessageID, from, ev.To, ev.Reason)
		if ev.Driver != "" {
			line += "  (" + ev.Driver + ")"
		}
		return line
	case "device.status":
		return fmt.Sprintf("%d  %s  device %s is %s  %s", ev.ID, at, ev.Device, ev.DeviceState, ev.Detail)
	default:
		return fmt.Sprintf("%d  %s  %s", ev.ID, at, ev.Kind)
	}
}
