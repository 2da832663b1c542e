package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.bug.st/serial"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/modem"
)

// newModem builds the AT-command modem driver on a serial port.
func newModem(ctx context.Context, cfg config.Driver, log *slog.Logger) (drivers.Driver, error) {
	o := cfg.Modem
	if o == nil {
		o = &config.ModemOptions{}
	}
	baud := o.Baud
	if baud == 0 {
		baud = config.DefaultModemBaud
	}
	reports := true
	if o.DeliveryReports != nil {
		reports = *o.DeliveryReports
	}
	opts := modem.Options{
		Name: cfg.Name,
		Port: o.Port,
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			if o.Port == "" {
				// Validate refuses this; a driver built without it stays
				// down and says why.
				return nil, errors.New("modem.port is not set")
			}
			return serial.Open(o.Port, &serial.Mode{BaudRate: baud})
		},
		SMSC:                o.SMSC,
		DeliveryReports:     reports,
		CommandTimeout:      o.CommandTimeout.Duration,
		SendTimeout:         o.SendTimeout.Duration,
		RegistrationTimeout: o.RegistrationTimeout.Duration,
		ReportWindow:        o.ReportWindow.Duration,
	}
	for _, cmd := range o.Init {
		if len(cmd) >= 2 && strings.EqualFold(cmd[:2], "AT") {
			cmd = cmd[2:]
		}
		opts.Init = append(opts.Init, cmd)
	}
	if o.PINFile != "" {
		path := o.PINFile
		opts.PIN = func() (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", err
			}
			pin := strings.TrimSpace(string(b))
			if pin == "" {
				return "", fmt.Errorf("%s is empty", path)
			}
			return pin, nil
		}
	}
	return modem.New(ctx, opts, log)
}
