// Package logging builds smsgw's *slog.Logger and keeps phone numbers out of
// the logs: a number passed as Phone is always written masked.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// New returns a logger writing to w at level (debug, info, warn or error;
// empty means info) in format (json, text, or auto; empty means auto).
//
// Auto picks JSON when the process runs under systemd (JOURNAL_STREAM or
// INVOCATION_ID is set) or when w is not a terminal, and text on a terminal.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch f := strings.ToLower(strings.TrimSpace(format)); f {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "", "auto":
		if underSystemd(os.Getenv) || !isTerminal(w) {
			return slog.New(slog.NewJSONHandler(w, opts)), nil
		}
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: use auto, json or text", format)
	}
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
}

// underSystemd reports whether the service manager started this process
// with its output going to the journal.
func underSystemd(getenv func(string) string) bool {
	return getenv("JOURNAL_STREAM") != "" || getenv("INVOCATION_ID") != ""
}

// isTerminal reports whether w is a file that is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
