package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"smsgw/daemon/client"
)

func (a *app) messagesCmd() *cobra.Command {
	return a.group("messages", "List, show, cancel and wait for messages",
		a.listCmd("list", "List messages", (*client.Client).Messages),
		a.showCmd(),
		a.actionCmd("cancel ID", "Cancel a message that is still queued", (*client.Client).Cancel),
		a.waitCmd(),
	)
}

func (a *app) dlqCmd() *cobra.Command {
	return a.group("dlq", "Review the dead-letter queue",
		a.listCmd("list", "List dead-lettered messages", (*client.Client).DeadLetters),
		a.actionCmd("requeue ID", "Put a dead-lettered message back in the queue", (*client.Client).Requeue),
	)
}

// lister fetches one page of a listing.
type lister func(c *client.Client, ctx context.Context, opts client.ListOptions) (*client.MessageList, error)

func (a *app) listCmd(use, short string, list lister) *cobra.Command {
	var (
		opts         client.ListOptions
		status       string
		since, until string
		all          bool
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if status != "" {
				opts.States = strings.Split(status, ",")
			}
			var err error
			if opts.Since, err = a.parseTime("since", since); err != nil {
				return err
			}
			if opts.Until, err = a.parseTime("until", until); err != nil {
				return err
			}
			if opts.Limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			page, err := list(c, cmd.Context(), opts)
			if err != nil {
				return err
			}
			for all && page.NextCursor != "" {
				prev := opts.Cursor
				opts.Cursor = page.NextCursor
				if opts.Cursor == prev {
					return fmt.Errorf("the daemon returned the same cursor %q twice", prev)
				}
				next, err := list(c, cmd.Context(), opts)
				if err != nil {
					return err
				}
				page.Messages = append(page.Messages, next.Messages...)
				page.NextCursor = next.NextCursor
			}
			if a.json {
				return a.printJSON(page)
			}
			if err := a.printMessageTable(page.Messages); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(a.stderr, "more: --cursor %s (or --all)\n", page.NextCursor)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only these states, comma-separated (e.g. failed,unknown)")
	f.StringVar(&opts.Purpose, "purpose", "", "only this purpose")
	f.StringVar(&opts.To, "to", "", "only this recipient")
	f.StringVar(&since, "since", "", "created at or after `TIME` (RFC 3339, or a duration ago such as 2h)")
	f.StringVar(&until, "until", "", "created before `TIME` (RFC 3339, or a duration ago)")
	f.IntVar(&opts.Limit, "limit", 0, "page size (default: the daemon's)")
	f.StringVar(&opts.Cursor, "cursor", "", "continue from a previous page")
	f.BoolVar(&all, "all", false, "follow cursors and list every page")
	return cmd
}

// parseTime reads an RFC 3339 time or a duration before now.
func (a *app) parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return a.now().Add(-d), nil
	}
	return time.Time{}, usageErrorf("--%s %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (2h)", flag, s)
}

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a message and its event history",
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.Message(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(m)
			}
			return a.printMessageDetails(m)
		}),
	}
}

// actionCmd returns a command that applies act to one message and prints
// the message afterwards.
func (a *app) actionCmd(use, short string, act func(*client.Client, context.Context, string) (*client.Message, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := act(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printFinal(m)
		}),
	}
}

func (a *app) waitCmd() *cobra.Command {
	var (
		target  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait until a message reaches a state or a final state",
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if err := checkWaitState(target); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.await(cmd.Context(), c, args[0], target, timeout)
		}),
	}
	cmd.Flags().StringVar(&target, "for", client.StateDelivered, "state to wait for")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait; 0 waits forever")
	return cmd
}
