package builtin

import (
	"context"
	"errors"
	"log/slog"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/adb"
	"smsgw/drivers/smsservice"
)

// newADB builds the adb driver. In forward mode the gateway app is spoken
// to by the smsservice driver's code, over the forward the adb driver keeps.
func newADB(_ context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error) {
	if cfg.ADB == nil || (cfg.ADB.Mode == "" || cfg.ADB.Mode == "forward") && cfg.SMSService == nil {
		// A driver built in code rather than loaded: take the configuration's defaults.
		c := config.Config{Drivers: []config.Driver{cfg}}
		c.ApplyDefaults()
		cfg = c.Drivers[0]
		if cfg.SMSService == nil && cfg.ADB.Mode == "forward" {
			cfg.SMSService = &config.SMSServiceOptions{}
			c.Drivers[0] = cfg
			c.ApplyDefaults()
			cfg = c.Drivers[0]
		}
	}
	o := cfg.ADB
	opts := adb.Options{
		Serial:       o.Serial,
		Mode:         adb.Mode(o.Mode),
		Server:       o.Server,
		ADBPath:      o.ADBPath,
		KeyDir:       o.KeyDir,
		RemotePort:   o.RemotePort,
		LocalPort:    o.LocalPort,
		AppPackage:   o.AppPackage,
		SIMSlot:      o.SIMSlot,
		Subscription: o.Subscription,
		Package:      o.Package,
		Pacing: adb.Pacing{
			Every:  cfg.Pacing.Every.Duration,
			Count:  cfg.Pacing.Max.Count,
			Window: cfg.Pacing.Max.Window,
		},
		PollInterval: o.PollInterval.Duration,
	}
	if opts.Mode == adb.ModeForward {
		if cfg.SMSService == nil {
			return nil, errors.New("forward mode needs the smsservice block describing the gateway app")
		}
		so, err := smsservice.OptionsFromConfig(cfg.SMSService)
		if err != nil {
			return nil, err
		}
		name := cfg.Name
		opts.Gateway = func(baseURL string) (adb.Gateway, error) {
			so := so
			so.BaseURL = baseURL
			return smsservice.New(name, so, log.With("via", "adb forward"))
		}
	}
	return adb.New(cfg.Name, opts, log)
}
