package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"smsgw/daemon"
	"smsgw/daemon/logging"
)

func (a *app) runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground until SIGINT or SIGTERM",
		Long: "Run the daemon in the foreground. Without --config it uses the embedded default:\n" +
			"the simulated phone, with the socket and data under the working directory.",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			log, err := logging.New(a.stderr, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return fmt.Errorf("config log: %w", err)
			}
			daemon.Version = Version
			return daemon.Run(cmd.Context(), cfg, log)
		}),
	}
}
