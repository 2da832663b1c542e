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

	"smsgw/config"
	"smsgw/daemon"
	"smsgw/daemon/logging"
)

func (a *app) runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground until SIGINT or SIGTERM; SIGHUP reloads the configuration",
		Long: "Run the daemon in the foreground. Without --config it uses the embedded default:\n" +
			"the simulated phone, with the socket and data under the working directory.\n" +
			"SIGHUP (systemctl reload) re-reads --config: a valid file replaces the running\n" +
			"configuration (drivers, routes, policy) and the queue carries on; an invalid one is\n" +
			"refused with its problems logged, and the running configuration stays.",
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
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return a.serve(cmd.Context(), cfg, log, hup)
		}),
	}
}

// serve runs the daemon and restarts it in-process with a new
// configuration at each reload signal. The queue lives in the store, so it
// carries over; sends in flight finish before the old parts stop.
func (a *app) serve(ctx context.Context, cfg *config.Config, log *slog.Logger, reload <-chan os.Signal) error {
	hooks := daemon.Hooks{
		// Under systemd (Type=notify) these tell the manager when the
		// socket is ready and when shutdown begins; elsewhere they do nothing.
		Ready:    func() { _, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyReady) },
		Stopping: func() { _, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyStopping) },
	}
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- daemon.RunWithHooks(runCtx, cfg, log, hooks) }()
		next, err := a.waitReload(log, reload, done)
		if next == nil {
			stop()
			return err
		}
		_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyReloading)
		log.Info("reloading: stopping the running configuration")
		stop()
		if err := <-done; err != nil {
			return err
		}
		cfg = next
		if l, err := logging.New(a.stderr, cfg.Log.Level, cfg.Log.Format); err == nil {
			log = l
		}
	}
}

// waitReload waits until the daemon ends (nil config, its error) or a
// reload brings a valid configuration. A configuration that does not load
// is refused and the daemon keeps running.
func (a *app) waitReload(log *slog.Logger, reload <-chan os.Signal, done <-chan error) (*config.Config, error) {
	for {
		select {
		case err := <-done:
			return nil, err
		case <-reload:
			next, err := a.loadConfig()
			if err != nil {
				log.Error("reload refused: the new configuration is not valid; the running one stays",
					slog.String("problems", err.Error()))
				continue
			}
			return next, nil
		}
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
