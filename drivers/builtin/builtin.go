// Package builtin is the one explicit map from a configured driver type to
// its constructor. Drivers do not register themselves: adding a driver means
// adding a line to Factories.
package builtin

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/sim"
)

// Factory builds a driver from its configuration.
type Factory func(ctx context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error)

// Factories maps each built-in driver type to its constructor.
var Factories = map[string]Factory{
	"sim":        newSim,
	"smsservice": newSMSService,
	"adb":        newADB,
	"modem":      newModem,
}

// Types returns the known driver types, sorted.
func Types() []string {
	types := make([]string, 0, len(Factories))
	for t := range Factories {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Open builds the driver cfg describes. Errors do not repeat the driver's
// name: callers add it. A nil log discards.
func Open(ctx context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error) {
	f, ok := Factories[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("unknown driver type %q (known types: %s)", cfg.Type, strings.Join(Types(), ", "))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := f(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open %s driver: %w", cfg.Type, err)
	}
	return d, nil
}

// newSim builds the simulated phone. Delivery reports are on unless the
// configuration turns them off.
func newSim(_ context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error) {
	reports := true
	if cfg.DeliveryReports != nil {
		reports = *cfg.DeliveryReports
	}
	return sim.New(cfg.Name, sim.Options{
		Latency:         cfg.Latency.Duration,
		Transient:       cfg.Failures.Transient,
		Permanent:       cfg.Failures.Permanent,
		Uncertain:       cfg.Failures.Uncertain,
		Undelivered:     cfg.Failures.Undelivered,
		DeliveryReports: reports,
		DeliveryDelay:   cfg.DeliveryDelay.Duration,
		OutboxPath:      cfg.Outbox,
	}, log)
}
