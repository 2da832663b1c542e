package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"smsgw/daemon/client"
)

func (a *app) optoutCmd() *cobra.Command {
	return a.group("optout", "Manage the opt-out list",
		a.changeCmd("add NUMBER", "Opt a number out of every message", func(cmd *cobra.Command, c *client.Client, args []string) (bool, error) {
			return c.AddOptOut(cmd.Context(), args[0])
		}),
		a.changeCmd("remove NUMBER", "Take a number off the opt-out list", func(cmd *cobra.Command, c *client.Client, args []string) (bool, error) {
			return c.RemoveOptOut(cmd.Context(), args[0])
		}),
		&cobra.Command{
			Use: "list", Short: "List opted-out numbers (masked)", Args: cobra.NoArgs,
			RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				l, err := c.OptOuts(cmd.Context())
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(l)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RECIPIENT\tSINCE\tSOURCE")
				for _, o := range l.OptOuts {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Recipient, o.At.In(a.loc).Format("2006-01-02 15:04"), o.Source)
				}
				return tw.Flush()
			}),
		},
	)
}

func (a *app) consentCmd() *cobra.Command {
	var source string
	add := a.changeCmd("add NUMBER PURPOSE", "Record a number's consent to a purpose", func(cmd *cobra.Command, c *client.Client, args []string) (bool, error) {
		return c.AddConsent(cmd.Context(), client.ConsentRequest{Recipient: args[0], Purpose: args[1], Source: source})
	})
	add.Flags().StringVar(&source, "source", "", "how the consent was given, e.g. \"signup form\"")
	return a.group("consent", "Manage consents for purposes that require them",
		add,
		a.changeCmd("remove NUMBER PURPOSE", "Withdraw a number's consent to a purpose", func(cmd *cobra.Command, c *client.Client, args []string) (bool, error) {
			return c.RemoveConsent(cmd.Context(), args[0], args[1])
		}),
		&cobra.Command{
			Use: "list [NUMBER]", Short: "List consents (numbers masked)", Args: cobra.MaximumNArgs(1),
			RunE: a.runE(func(cmd *cobra.Command, args []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				number := ""
				if len(args) == 1 {
					number = args[0]
				}
				l, err := c.Consents(cmd.Context(), number)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(l)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RECIPIENT\tPURPOSE\tSINCE\tSOURCE")
				for _, x := range l.Consents {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Recipient, x.Purpose, x.At.In(a.loc).Format("2006-01-02 15:04"), x.Source)
				}
				return tw.Flush()
			}),
		},
	)
}

func (a *app) journalCmd() *cobra.Command {
	var (
		since string
		limit int
	)
	cmd := &cobra.Command{
		Use: "journal", Short: "Show opt-out and consent changes, newest first", Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			t, err := a.parseTime("since", since)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			j, err := c.Journal(cmd.Context(), t, limit)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(j)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tKIND\tRECIPIENT\tPURPOSE\tSOURCE\tKEYWORD")
			for _, e := range j.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.In(a.loc).Format("2006-01-02 15:04:05"), e.Kind, e.Recipient, e.Purpose, e.Source, e.Keyword)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&since, "since", "", "entries at or after `TIME` (RFC 3339, or a duration ago such as 24h)")
	cmd.Flags().IntVar(&limit, "limit", 0, "most entries to show")
	return cmd
}

// changeCmd returns a command with fixed arguments that changes a list and
// says whether anything changed.
func (a *app) changeCmd(use, short string, do func(cmd *cobra.Command, c *client.Client, args []string) (bool, error)) *cobra.Command {
	n := 1
	for _, r := range use {
		if r == ' ' {
			n++
		}
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(n - 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			changed, err := do(cmd, c, args)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(client.Change{Changed: changed})
			}
			if changed {
				fmt.Fprintln(a.stdout, "done")
			} else {
				fmt.Fprintln(a.stdout, "unchanged: it already was so")
			}
			return nil
		}),
	}
}
