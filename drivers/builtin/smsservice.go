package builtin

import (
	"context"
	"log/slog"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/smsservice"
)

// newSMSService builds the driver of an Android SMS app reached over HTTP,
// reading its secret files now.
func newSMSService(_ context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error) {
	// Without a block (a configuration that was not validated) the app
	// is looked for on its default port on this machine.
	var opts smsservice.Options
	if cfg.SMSService != nil {
		var err error
		if opts, err = smsservice.OptionsFromConfig(cfg.SMSService); err != nil {
			return nil, err
		}
	}
	return smsservice.New(cfg.Name, opts, log)
}
