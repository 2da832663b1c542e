package config

import (
	"strings"
	"testing"
	"time"
)

// modemConfig parses drivers (a YAML list) into an otherwise valid
// configuration, applies defaults and validates it.
func modemConfig(t *testing.T, drivers string) (*Config, error) {
	t.Helper()
	parsed, err := Parse([]byte("drivers:\n"+drivers), "modem.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := validConfig(t)
	c.Drivers = parsed.Drivers
	c.Routes = nil
	c.ApplyDefaults()
	return c, c.Validate()
}

func TestModemDefaults(t *testing.T) {
	c, err := modemConfig(t, "  - {name: usb, type: modem, modem: {port: /dev/ttyUSB2}}\n")
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	o := c.Drivers[0].Modem
	if o.Baud != 115200 || o.DeliveryReports == nil || !*o.DeliveryReports ||
		o.CommandTimeout.Duration != 5*time.Second || o.SendTimeout.Duration != 120*time.Second ||
		o.RegistrationTimeout.Duration != 60*time.Second || o.ReportWindow.Duration != 72*time.Hour {
		t.Errorf("defaults = %+v", o)
	}
}

func TestModemValidate(t *testing.T) {
	tests := []struct {
		name   string
		driver string
		want   []string
	}{
		{"no block", "  - {name: m, type: modem}\n", []string{"drivers[0].modem.port: a modem driver needs a port"}},
		{"relative port", "  - {name: m, type: modem, modem: {port: ttyUSB0}}\n", []string{"drivers[0].modem.port: must be an absolute device path"}},
		{"bad baud", "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, baud: 1234}}\n", []string{"drivers[0].modem.baud: unsupported speed 1234"}},
		{"bad smsc", "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, smsc: '+33 6'}}\n", []string{"drivers[0].modem.smsc: must be a number"}},
		{"short send timeout", "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, send_timeout: 5s}}\n", []string{"drivers[0].modem.send_timeout: 5s is too short"}},
		{"pin in init", "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, init: ['AT+CPIN=1234']}}\n", []string{"drivers[0].modem.init[0]: the PIN belongs in pin_file"}},
		{"control char in init", "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, init: [\"+CNMI=1\\r\"]}}\n", []string{"drivers[0].modem.init[0]: must be one AT command"}},
		{"good", "  - {name: m, type: modem, modem: {port: /dev/serial/by-id/usb-x, baud: 9600, smsc: '+33609001390', init: ['+CSCS=\"GSM\"']}}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := modemConfig(t, tt.driver)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %s", tt.driver)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestModemPINFileResolved(t *testing.T) {
	c, err := modemConfig(t, "  - {name: m, type: modem, modem: {port: /dev/ttyUSB0, pin_file: sim.pin}}\n")
	if err != nil {
		t.Fatal(err)
	}
	c.Resolve("/etc/smsgw")
	if got := c.Drivers[0].Modem.PINFile; got != "/etc/smsgw/sim.pin" {
		t.Errorf("pin_file = %q, want /etc/smsgw/sim.pin", got)
	}
}
