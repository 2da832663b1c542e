package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/builtin"
)

func (a *app) doctorCmd() *cobra.Command {
	var only string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [--driver NAME]",
		Short: "Examine each configured device and say what is wrong and what to do",
		Long: "Open each driver of the configuration (or only --driver NAME) and examine its device:\n" +
			"for a modem the SIM, network, signal and SMS centre; for a phone the app, battery and limits.\n" +
			"Stop the daemon first when it holds the device (a serial port opens only once).",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.doctor(cmd.Context(), cfg, only, timeout)
		}),
	}
	cmd.Flags().StringVar(&only, "driver", "", "examine only the driver with this name")
	cmd.Flags().DurationVar(&timeout, "timeout", 90*time.Second, "give up on a device after this long")
	return cmd
}

// doctorReport is `doctor --json` output, one per driver.
type doctorReport struct {
	Driver string `json:"driver"`
	Type   string `json:"type"`
	drivers.Diagnosis
}

func (a *app) doctor(ctx context.Context, cfg *config.Config, only string, timeout time.Duration) error {
	var reports []doctorReport
	found := false
	for _, dc := range cfg.Drivers {
		if only != "" && dc.Name != only {
			continue
		}
		found = true
		reports = append(reports, a.diagnose(ctx, dc, timeout))
	}
	if !found {
		return fmt.Errorf("no driver named %q in the configuration", only)
	}
	if a.json {
		if err := a.printJSON(reports); err != nil {
			return err
		}
	} else {
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "%s (%s)\n", r.Driver, r.Type)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, c := range r.Checks {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", checkMark(c.Status), c.Name, c.Detail)
				if c.Fix != "" && c.Status != drivers.CheckOK {
					fmt.Fprintf(tw, "  \t\t→ %s\n", c.Fix)
				}
			}
			_ = tw.Flush()
			fmt.Fprintf(a.stdout, "verdict: %s\n", r.Verdict)
		}
	}
	for _, r := range reports {
		if !r.OK {
			return &exitCodeError{code: exitError}
		}
	}
	return nil
}

func (a *app) diagnose(ctx context.Context, dc config.Driver, timeout time.Duration) doctorReport {
	r := doctorReport{Driver: dc.Name, Type: dc.Type}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	drv, err := builtin.Open(ctx, dc, slog.New(slog.DiscardHandler))
	if err != nil {
		r.Checks = []drivers.Check{{Name: "open driver", Status: drivers.CheckFail, Detail: err.Error(),
			Fix: "check this driver's section of the configuration with `smsgw config check`"}}
		r.Verdict = "the driver could not be opened"
		return r
	}
	defer drv.Close()
	d, ok := drv.(drivers.Diagnoser)
	if !ok {
		r.OK = true
		r.Verdict = "this driver type has no diagnostics"
		return r
	}
	r.Diagnosis = d.Diagnose(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Verdict == "" {
		r.Verdict = "the device did not answer in time"
	}
	return r
}

func checkMark(status string) string {
	switch status {
	case drivers.CheckOK:
		return "ok"
	case drivers.CheckWarn:
		return "WARN"
	default:
		return "FAIL"
	}
}
