// Package cli implements the smsgw command line: `smsgw run` starts the
// daemon; the other commands talk to a running daemon through the Go client
// in daemon/client and only format what it answers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"smsgw/daemon/client"
)

// Version is set at build time.
var Version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs the command line and returns the process exit code: 0 on
// success, 1 when the command failed, 2 on a usage error.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
		getenv: os.Getenv,
		getwd:  os.Getwd,
		now:    time.Now,
		loc:    time.Local,
	}
	return a.main(ctx, args)
}

// app is one run of the command line: its streams, its environment and
// the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	getwd          func() (string, error)
	now            func() time.Time
	// loc is the time zone times are shown in.
	loc *time.Location

	// Global flags.
	socket     string
	configPath string
	json       bool

	// entered is set once a command's own code starts; an error before
	// that comes from parsing the command line.
	entered bool
}

func (a *app) main(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return a.report(cmd, err)
}

// report prints err for people and returns the exit code it calls for.
func (a *app) report(cmd *cobra.Command, err error) int {
	var (
		usage *usageError
		exit  *exitCodeError
		prob  *client.Problem
	)
	switch {
	case !a.entered || errors.As(err, &usage):
		path := "smsgw"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(a.stderr, "smsgw: %v\n", err)
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", path)
		return exitUsage
	case errors.As(err, &exit):
		if exit.msg != "" {
			fmt.Fprintf(a.stderr, "error: %s\n", exit.msg)
		}
		return exit.code
	case errors.As(err, &prob):
		detail := prob.Detail
		if detail == "" {
			detail = prob.Title
		}
		fmt.Fprintf(a.stderr, "error: %s (%s)\n", detail, prob.Code)
		for _, fe := range prob.Errors {
			fmt.Fprintf(a.stderr, "  %s: %s (%s)\n", fe.Field, fe.Detail, fe.Code)
		}
		return exitError
	default:
		fmt.Fprintf(a.stderr, "error: %v\n", err)
		return exitError
	}
}

// usageError is a command line that cannot be run as written.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCodeError ends the command with code after its output is printed.
// An empty msg prints nothing more.
type exitCodeError struct {
	code int
	msg  string
}

func (e *exitCodeError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.msg
}

// runE marks the command as started before running fn, so that its errors
// are told apart from command-line errors.
func (a *app) runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.entered = true
		return fn(cmd, args)
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "smsgw",
		Short: "Send consent-based transactional SMS through a local phone or modem",
		Long: "smsgw is a local daemon that sends one-time codes, verification and reminder SMS\n" +
			"for apps on the same LAN. `smsgw run` starts it; the other commands talk to it.",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE:              a.groupRunE,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.socket, "socket", "", "daemon API socket (default: $SMSGW_SOCKET, else the config's api.socket)")
	pf.StringVar(&a.configPath, "config", "", "configuration `FILE` (default: the embedded default)")
	pf.BoolVar(&a.json, "json", false, "print JSON instead of tables")

	root.AddCommand(
		a.runCmd(),
		a.sendCmd(),
		a.messagesCmd(),
		a.dlqCmd(),
		a.healthCmd(),
		a.statsCmd(),
		a.optoutCmd(),
		a.consentCmd(),
		a.journalCmd(),
		a.eventsCmd(),
		a.configCmd(),
		a.doctorCmd(),
		a.tokenCmd(),
		a.versionCmd(),
	)
	root.AddCommand(a.serviceCmds()...)
	return root
}

// groupRunE runs a command that only groups others: named without a known
// subcommand, it is a usage error.
func (a *app) groupRunE(cmd *cobra.Command, args []string) error {
	a.entered = true
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %q (commands: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
	}
	return usageErrorf("%q needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
}

// group returns a command that only holds subcommands.
func (a *app) group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, RunE: a.groupRunE}
	cmd.AddCommand(subs...)
	return cmd
}

// client returns a client for the daemon's socket: --socket, else
// $SMSGW_SOCKET, else api.socket of --config or of the embedded default.
func (a *app) client() (*client.Client, error) {
	path, err := a.socketPath()
	if err != nil {
		return nil, err
	}
	return client.NewUnix(path), nil
}

func (a *app) socketPath() (string, error) {
	if a.socket != "" {
		return a.socket, nil
	}
	if s := a.getenv("SMSGW_SOCKET"); s != "" {
		return s, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return "", fmt.Errorf("finding the daemon's socket: %w", err)
	}
	return cfg.API.Socket, nil
}
