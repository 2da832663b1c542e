package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the adb driver.
const (
	DefaultADBServer       = "127.0.0.1:5037"
	DefaultADBMode         = "forward"
	DefaultADBRemotePort   = 8080
	DefaultADBPollInterval = 5 * time.Second
)

// adbModes are the accepted values of adb.mode.
var adbModes = []string{"forward", "isms"}

// ADBOptions configures a driver of type adb: an Android phone on USB
// reached through the adb server. In forward mode the driver entry's
// smsservice block describes the gateway app on the phone (its url is
// derived from the forward and must be left out).
type ADBOptions struct {
	// Serial chooses the phone, as `adb devices -l` lists it. Required.
	Serial string `yaml:"serial"`
	// Mode is forward (a gateway app through an adb forward) or isms
	// (`service call isms`, no app, no delivery reports).
	Mode string `yaml:"mode"`
	// Server is the adb server's host:port.
	Server string `yaml:"server"`
	// RemotePort is the gateway app's port on the phone (forward).
	RemotePort int `yaml:"remote_port"`
	// LocalPort is the loopback port of the forward; 0 lets adb choose
	// one, which the driver then keeps.
	LocalPort int `yaml:"local_port"`
	// ADBPath, when set, is the adb binary used to start a server that is
	// not running. smsgw never stops or restarts a server.
	ADBPath string `yaml:"adb_path"`
	// KeyDir is the HOME of a server smsgw starts: its key lives in
	// KeyDir/.android/adbkey, so the phone's authorisation survives.
	KeyDir string `yaml:"key_dir"`
	// SIMSlot is the 0-based SIM slot whose state and operator are checked.
	SIMSlot int `yaml:"sim_slot"`
	// Subscription is the subscription id isms sends with; unset means
	// the phone's default SMS subscription.
	Subscription *int `yaml:"subscription"`
	// Package is the calling package isms passes; unset means
	// com.android.shell (Android 10 and older) or none (11+).
	Package string `yaml:"package"`
	// AppPackage is the gateway app's package, checked against the Doze
	// whitelist (forward).
	AppPackage string `yaml:"app_package"`
	// PollInterval is how often the phone is checked for drops and reboots.
	PollInterval Duration `yaml:"poll_interval"`
}

func adbDefaults(d *Driver) {
	if d.ADB == nil {
		d.ADB = &ADBOptions{}
	}
	o := d.ADB
	setString(&o.Server, DefaultADBServer)
	setString(&o.Mode, DefaultADBMode)
	if o.Mode == "forward" {
		if o.RemotePort == 0 {
			o.RemotePort = DefaultADBRemotePort
		}
		if d.SMSService != nil {
			smsserviceOptionDefaults(d.SMSService)
		}
	}
	setDuration(&o.PollInterval, DefaultADBPollInterval)
	if d.Pacing.Max.IsZero() {
		d.Pacing.Max = DefaultPhonePacing
	}
}

func adbValidate(v *validator, path string, d *Driver) {
	o := d.ADB
	if o == nil {
		v.add(path+".adb", "must be set")
		return
	}
	p := path + ".adb"
	if strings.TrimSpace(o.Serial) == "" {
		v.add(p+".serial", "must be set to the phone's serial, as `adb devices -l` lists it")
	}
	if !slices.Contains(adbModes, o.Mode) {
		v.add(p+".mode", "unknown mode %q (use %s)", o.Mode, strings.Join(adbModes, " or "))
	}
	if host, port, err := net.SplitHostPort(o.Server); err != nil || host == "" {
		v.add(p+".server", "must be host:port, got %q", o.Server)
	} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		v.add(p+".server", "port out of range in %q", o.Server)
	}
	if o.LocalPort < 0 || o.LocalPort > 65535 {
		v.add(p+".local_port", "must be 0 (chosen by adb) to 65535, got %d", o.LocalPort)
	}
	if o.SIMSlot < 0 {
		v.add(p+".sim_slot", "must be 0 or more, got %d", o.SIMSlot)
	}
	if o.KeyDir != "" && o.ADBPath == "" {
		v.add(p+".key_dir", "applies only to a server smsgw starts: set adb_path too")
	}
	positive(v, p+".poll_interval", o.PollInterval)
	switch o.Mode {
	case "forward":
		if o.RemotePort <= 0 || o.RemotePort > 65535 {
			v.add(p+".remote_port", "must be 1 to 65535, got %d", o.RemotePort)
		}
		if o.Subscription != nil {
			v.add(p+".subscription", "applies only to mode isms")
		}
		if o.Package != "" {
			v.add(p+".package", "applies only to mode isms (the gateway app's package is app_package)")
		}
		if d.SMSService == nil {
			v.add(path+".smsservice", "must be set in mode forward: it describes the gateway app on the phone")
			return
		}
		if d.SMSService.URL != "" {
			v.add(path+".smsservice.url", "must be left out: the adb driver reaches the app through its forward")
		}
		validateSMSServiceOptions(v, path+".smsservice", d.SMSService, false)
	case "isms":
		if d.SMSService != nil {
			v.add(path+".smsservice", "applies only to mode forward")
		}
		if o.AppPackage != "" {
			v.add(p+".app_package", "applies only to mode forward")
		}
	}
}

func adbPaths(d *Driver) []*string {
	var paths []*string
	if d.ADB != nil {
		paths = append(paths, &d.ADB.ADBPath, &d.ADB.KeyDir)
	}
	if d.SMSService != nil {
		paths = append(paths, smsserviceOptionPaths(d.SMSService)...)
	}
	return paths
}
