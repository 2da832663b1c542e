package config

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the modem driver.
const (
	DefaultModemBaud                = 115200
	DefaultModemCommandTimeout      = 5 * time.Second
	DefaultModemSendTimeout         = 120 * time.Second
	DefaultModemRegistrationTimeout = 60 * time.Second
	DefaultModemReportWindow        = 72 * time.Hour
)

// modemBauds are the serial speeds modem.baud accepts.
var modemBauds = []int{9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// ModemOptions configures a driver of type modem: a GSM modem driven with
// AT commands in PDU mode over a serial port.
type ModemOptions struct {
	// Port is the serial device. A /dev/serial/by-id path survives
	// replugging; /dev/ttyUSB numbers may change. Required.
	Port string `yaml:"port"`
	// Baud is the serial speed.
	Baud int `yaml:"baud"`
	// PINFile holds the SIM PIN when the SIM asks for one. The PIN is
	// entered once: a wrong one stops the driver rather than lock the SIM.
	PINFile string `yaml:"pin_file"`
	// SMSC, when set, is the SMS centre number put in every message
	// instead of the one stored on the SIM.
	SMSC string `yaml:"smsc"`
	// DeliveryReports requests a status report for every message part.
	DeliveryReports *bool `yaml:"delivery_reports"`
	// CommandTimeout bounds the answer to ordinary AT commands.
	CommandTimeout Duration `yaml:"command_timeout"`
	// SendTimeout bounds the wait for the network's answer to a message
	// once the modem has it (AT+CMGS): a send that times out after that
	// point is "unknown", not failed.
	SendTimeout Duration `yaml:"send_timeout"`
	// RegistrationTimeout bounds the wait for the network at start-up.
	RegistrationTimeout Duration `yaml:"registration_timeout"`
	// ReportWindow is how long after a send its status report is matched.
	ReportWindow Duration `yaml:"report_window"`
	// Init lists extra AT commands run at the end of bring-up, such as
	// "+CNMI=2,1,0,1,0" for a modem that routes status reports. A modem
	// refusing one is logged, not fatal.
	Init []string `yaml:"init"`
}

func modemDefaults(d *Driver) {
	if d.Modem == nil {
		d.Modem = &ModemOptions{}
	}
	o := d.Modem
	if o.Baud == 0 {
		o.Baud = DefaultModemBaud
	}
	if o.DeliveryReports == nil {
		on := true
		o.DeliveryReports = &on
	}
	def := func(p *Duration, v time.Duration) {
		if p.Duration == 0 {
			p.Duration = v
		}
	}
	def(&o.CommandTimeout, DefaultModemCommandTimeout)
	def(&o.SendTimeout, DefaultModemSendTimeout)
	def(&o.RegistrationTimeout, DefaultModemRegistrationTimeout)
	def(&o.ReportWindow, DefaultModemReportWindow)
}

func modemValidate(v *validator, path string, d *Driver) {
	o := d.Modem
	path += ".modem"
	if o == nil {
		v.add(path+".port", "a modem driver needs a port, such as /dev/serial/by-id/usb-...")
		return
	}
	switch {
	case o.Port == "":
		v.add(path+".port", "a modem driver needs a port, such as /dev/serial/by-id/usb-...")
	case !strings.HasPrefix(o.Port, "/"):
		v.add(path+".port", "must be an absolute device path, got %q", o.Port)
	}
	if !slices.Contains(modemBauds, o.Baud) {
		v.add(path+".baud", "unsupported speed %d (use one of 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)", o.Baud)
	}
	if o.SMSC != "" && !isPhoneDigits(o.SMSC) {
		v.add(path+".smsc", "must be a number with an optional leading +, got %q", o.SMSC)
	}
	for _, t := range []struct {
		key string
		d   Duration
		min time.Duration
	}{
		{"command_timeout", o.CommandTimeout, 100 * time.Millisecond},
		{"send_timeout", o.SendTimeout, time.Second},
		{"registration_timeout", o.RegistrationTimeout, 0},
		{"report_window", o.ReportWindow, time.Minute},
	} {
		if t.d.Duration < t.min || t.d.Duration < 0 {
			v.add(path+"."+t.key, "must be at least %v, got %v", t.min, t.d.Duration)
		}
	}
	if o.SendTimeout.Duration > 0 && o.SendTimeout.Duration < 30*time.Second {
		v.add(path+".send_timeout", "%v is too short: networks take up to 120s to answer a message (at least 30s)", o.SendTimeout.Duration)
	}
	for i, cmd := range o.Init {
		p := path + ".init[" + strconv.Itoa(i) + "]"
		switch {
		case cmd == "" || strings.ContainsFunc(cmd, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			v.add(p, "must be one AT command without control characters")
		case strings.HasPrefix(strings.TrimPrefix(strings.ToUpper(cmd), "AT"), "+CPIN"):
			v.add(p, "the PIN belongs in pin_file, not in init")
		}
	}
}

// isPhoneDigits reports whether s is 1 to 20 digits with an optional +.
func isPhoneDigits(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func modemPaths(d *Driver) []*string {
	if d.Modem == nil {
		return nil
	}
	return []*string{&d.Modem.PINFile}
}
