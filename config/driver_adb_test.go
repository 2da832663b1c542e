package config

import (
	"strings"
	"testing"
	"time"
)

// adbConfig parses drivers (a YAML list) into an otherwise valid
// configuration, applies defaults and validates it.
func adbConfig(t *testing.T, drivers string) (*Config, error) {
	t.Helper()
	parsed, err := Parse([]byte("drivers:\n"+drivers), "adb.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := validConfig(t)
	c.Drivers = parsed.Drivers
	c.Routes = nil
	c.ApplyDefaults()
	return c, c.Validate()
}

func TestADBDefaults(t *testing.T) {
	c, err := adbConfig(t, "  - {name: usb, type: adb, adb: {serial: R58M}, smsservice: {}}\n")
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	o := c.Drivers[0].ADB
	if o.Mode != "forward" || o.Server != DefaultADBServer || o.RemotePort != 8080 || o.LocalPort != 0 ||
		o.PollInterval.Duration != 5*time.Second {
		t.Errorf("defaults = %+v", o)
	}
	if c.Drivers[0].Pacing.Max.IsZero() {
		t.Error("a phone driver got no default pacing")
	}
	if c.Drivers[0].SMSService.Dialect == "" {
		t.Error("the smsservice block of forward mode got no defaults")
	}
}

func TestADBValidate(t *testing.T) {
	tests := []struct {
		name    string
		drivers string
		want    []string // substrings of the problems; none means valid
	}{
		{"isms minimal", "  - {name: usb, type: adb, adb: {serial: R58M, mode: isms}}\n", nil},
		{"isms full", "  - {name: usb, type: adb, adb: {serial: R58M, mode: isms, subscription: 2, package: com.android.shell, sim_slot: 1, adb_path: /usr/bin/adb, key_dir: /var/lib/smsgw/adb}}\n", nil},
		{"forward with app", "  - {name: usb, type: adb, adb: {serial: R58M, local_port: 18080, app_package: me.capcom.smsgateway}, smsservice: {dialect: smsgate}}\n", nil},
		{"no adb block", "  - {name: usb, type: adb}\n", []string{"drivers[0].adb.serial: must be set"}},
		{"no serial", "  - {name: usb, type: adb, adb: {mode: isms}}\n", []string{"adb.serial: must be set"}},
		{"bad mode", "  - {name: usb, type: adb, adb: {serial: R, mode: usb}}\n", []string{`adb.mode: unknown mode "usb"`}},
		{"bad server", "  - {name: usb, type: adb, adb: {serial: R, mode: isms, server: localhost}}\n", []string{"adb.server: must be host:port"}},
		{"server port", "  - {name: usb, type: adb, adb: {serial: R, mode: isms, server: \"127.0.0.1:70000\"}}\n", []string{"adb.server: port out of range"}},
		{"ports", "  - {name: usb, type: adb, adb: {serial: R, remote_port: 70000, local_port: -1}, smsservice: {}}\n",
			[]string{"adb.remote_port: must be 1 to 65535", "adb.local_port: must be 0"}},
		{"key_dir alone", "  - {name: usb, type: adb, adb: {serial: R, mode: isms, key_dir: /k}}\n", []string{"adb.key_dir: applies only to a server smsgw starts"}},
		{"forward needs smsservice", "  - {name: usb, type: adb, adb: {serial: R}}\n", []string{"drivers[0].smsservice: must be set in mode forward"}},
		{"forward url derived", "  - {name: usb, type: adb, adb: {serial: R}, smsservice: {url: \"http://10.0.0.2:8080\"}}\n", []string{"smsservice.url: must be left out"}},
		{"forward smsservice checked", "  - {name: usb, type: adb, adb: {serial: R}, smsservice: {dialect: soap}}\n", []string{`smsservice.dialect: unknown dialect "soap"`}},
		{"isms keys in forward", "  - {name: usb, type: adb, adb: {serial: R, subscription: 1, package: p}, smsservice: {}}\n",
			[]string{"adb.subscription: applies only to mode isms", "adb.package: applies only to mode isms"}},
		{"forward keys in isms", "  - {name: usb, type: adb, adb: {serial: R, mode: isms, app_package: p}, smsservice: {}}\n",
			[]string{"drivers[0].smsservice: applies only to mode forward", "adb.app_package: applies only to mode forward"}},
		{"negative slot", "  - {name: usb, type: adb, adb: {serial: R, mode: isms, sim_slot: -1}}\n", []string{"adb.sim_slot: must be 0 or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adbConfig(t, tt.drivers)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want problems %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems do not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestADBPathsResolved(t *testing.T) {
	c, err := adbConfig(t, "  - {name: usb, type: adb, adb: {serial: R, mode: isms, adb_path: bin/adb, key_dir: keys}}\n")
	if err != nil {
		t.Fatal(err)
	}
	c.Resolve("/srv/smsgw")
	if o := c.Drivers[0].ADB; o.ADBPath != "/srv/smsgw/bin/adb" || o.KeyDir != "/srv/smsgw/keys" {
		t.Errorf("resolved paths = %q, %q", o.ADBPath, o.KeyDir)
	}
}
