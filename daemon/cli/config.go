package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"smsgw/config"
)

// loadConfig reads --config, or the embedded default without it, and
// resolves its relative paths against the working directory.
func (a *app) loadConfig() (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if a.configPath != "" {
		cfg, err = config.Load(a.configPath)
	} else {
		cfg, err = config.Default()
	}
	if err != nil {
		return nil, err
	}
	wd, err := a.getwd()
	if err != nil {
		return nil, fmt.Errorf("finding the working directory: %w", err)
	}
	cfg.Resolve(wd)
	return cfg, nil
}

func (a *app) configCmd() *cobra.Command {
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file and list every problem in it",
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.configCheck(args[0])
		}),
	}
	return a.group("config", "Work with configuration files", check)
}

// checkResult is `config check --json` output.
type checkResult struct {
	File     string   `json:"file"`
	OK       bool     `json:"ok"`
	Drivers  int      `json:"drivers,omitempty"`
	Purposes int      `json:"purposes,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

func (a *app) configCheck(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		if !a.json {
			// The config package's errors carry one problem per line.
			fmt.Fprintln(a.stderr, err)
			return &exitCodeError{code: exitError}
		}
		problems := []string{err.Error()}
		var (
			verr *config.ValidationError
			perr *config.ParseError
		)
		switch {
		case errors.As(err, &verr):
			problems = verr.Problems
		case errors.As(err, &perr):
			problems = perr.Problems
		}
		if err := a.printJSON(checkResult{File: path, Problems: problems}); err != nil {
			return err
		}
		return &exitCodeError{code: exitError}
	}
	res := checkResult{File: path, OK: true, Drivers: len(cfg.Drivers), Purposes: len(cfg.Policy.Purposes)}
	if a.json {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "%s: OK (%d drivers, %d purposes)\n", path, res.Drivers, res.Purposes)
	return nil
}
