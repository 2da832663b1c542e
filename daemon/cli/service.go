package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"smsgw/systemd"
)

// serviceName is the name smsgw is installed under.
const serviceName = "smsgw"

// unitTemplate turns the shipped unit into the template the service
// library fills: only ExecStart changes, to the installed binary and the
// configuration given to `smsgw install`.
func unitTemplate(unit string) string {
	lines := strings.Split(unit, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "ExecStart=") {
			lines[i] = "ExecStart={{.Path|cmdEscape}}{{range .Arguments}} {{.|cmd}}{{end}}"
		}
	}
	return strings.Join(lines, "\n")
}

// serviceConfig describes smsgw to the service manager.
func serviceConfig(configPath string) *service.Config {
	return &service.Config{
		Name:        serviceName,
		DisplayName: "smsgw",
		Description: "smsgw transactional SMS daemon",
		Arguments:   []string{"run", "--config", configPath},
		Option: service.KeyValue{
			"SystemdScript": unitTemplate(systemd.Unit),
			"Restart":       "on-failure",
		},
	}
}

// noop satisfies service.Interface: smsgw runs under `smsgw run`, so the
// service library is used only to install and control it.
type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

func (a *app) serviceCmds() []*cobra.Command {
	control := func(use, short string, fn func(s service.Service) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
				s, err := service.New(noop{}, serviceConfig(""))
				if err != nil {
					return fmt.Errorf("service manager: %w", err)
				}
				return fn(s)
			}),
		}
	}
	install := &cobra.Command{
		Use:   "install --config FILE",
		Short: "Install smsgw as a system service (systemd: the hardened unit, the smsgw user, its directories)",
		Long: "Install smsgw as a system service running `smsgw run --config FILE` with this binary.\n" +
			"On systemd it writes the hardened unit from systemd/smsgw.service, and the sysusers.d and\n" +
			"tmpfiles.d files that create the smsgw user (in dialout and plugdev) and its directories.\n" +
			"Check the configuration first with `smsgw config check FILE`. Needs root.",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if a.configPath == "" {
				return usageErrorf("install needs --config FILE: the service runs with that configuration")
			}
			cfgPath, err := filepath.Abs(a.configPath)
			if err != nil {
				return err
			}
			if _, err := a.loadConfig(); err != nil {
				return fmt.Errorf("%s is not a valid configuration (see `smsgw config check`): %w", cfgPath, err)
			}
			s, err := service.New(noop{}, serviceConfig(cfgPath))
			if err != nil {
				return fmt.Errorf("service manager: %w", err)
			}
			if s.Platform() == "linux-systemd" {
				if err := writeSystemdSupport("/usr/lib"); err != nil {
					return err
				}
			}
			if err := s.Install(); err != nil {
				return fmt.Errorf("install: %w", err)
			}
			fmt.Fprintf(a.stdout, "installed %s (%s) running `smsgw run --config %s`\n", serviceName, s.Platform(), cfgPath)
			if s.Platform() == "linux-systemd" {
				fmt.Fprintln(a.stdout, "next: systemd-sysusers smsgw.conf && systemd-tmpfiles --create smsgw.conf && smsgw start")
			}
			return nil
		}),
	}
	return []*cobra.Command{
		install,
		control("uninstall", "Remove the smsgw system service (the data directory is kept)", func(s service.Service) error { return s.Uninstall() }),
		control("start", "Start the smsgw system service", func(s service.Service) error { return s.Start() }),
		control("stop", "Stop the smsgw system service (sends in flight finish first)", func(s service.Service) error { return s.Stop() }),
		control("status", "Say whether the smsgw system service is running", func(s service.Service) error {
			st, err := s.Status()
			switch {
			case errors.Is(err, service.ErrNotInstalled):
				fmt.Fprintln(a.stdout, "not installed (see `smsgw install --help`)")
				return &exitCodeError{code: exitError}
			case err != nil:
				return fmt.Errorf("asking the service manager (%s): %w", s.Platform(), err)
			}
			fmt.Fprintln(a.stdout, statusWord(st))
			if st != service.StatusRunning {
				return &exitCodeError{code: exitError}
			}
			return nil
		}),
	}
}

func statusWord(st service.Status) string {
	switch st {
	case service.StatusRunning:
		return "running"
	case service.StatusStopped:
		return "stopped"
	default:
		return "unknown"
	}
}

// writeSystemdSupport writes the sysusers.d and tmpfiles.d files under
// root (normally /usr/lib).
func writeSystemdSupport(root string) error {
	for _, f := range []struct{ dir, text string }{
		{"sysusers.d", systemd.Sysusers},
		{"tmpfiles.d", systemd.Tmpfiles},
	} {
		dir := filepath.Join(root, f.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, serviceName+".conf"), []byte(f.text), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.dir, err)
		}
	}
	return nil
}
