package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
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
			setMemoryLimit(log)
			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			go ignoreHangup(ctx, log)
			return daemon.RunWithHooks(ctx, cfg, log, daemon.Hooks{
				// Under systemd (Type=notify) these tell the manager when the
				// socket is ready and when shutdown begins; elsewhere they do nothing.
				Ready:    func() { _, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyReady) },
				Stopping: func() { _, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyStopping) },
			})
		}),
	}
}

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set. Badger's compactions allocate in bursts; without a limit the
// runtime keeps the freed pages and the resident size stays at the peak.
// BENCHMARKS.md has the measurements behind the value.
const defaultMemoryLimit = 64 << 20

func setMemoryLimit(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Debug("memory limit set", slog.Int("bytes", defaultMemoryLimit))
}

// ignoreHangup keeps SIGHUP from killing the daemon. Reloading the
// configuration in place is not supported yet; a restart applies changes,
// and the queue survives it.
func ignoreHangup(ctx context.Context, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			log.Warn("SIGHUP received: reloading is not supported yet; restart smsgw to apply a new configuration (queued messages are kept)")
		}
	}
}
