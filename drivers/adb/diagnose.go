package adb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
)

// Diagnose examines the adb server and the phone for `smsgw doctor`.
func (d *Driver) Diagnose(ctx context.Context) drivers.Diagnosis {
	f := d.look(ctx, true)
	var checks []drivers.Check
	add := func(name, status, detail, fix string) {
		checks = append(checks, drivers.Check{Name: name, Status: status, Detail: detail, Fix: fix})
	}
	verdict := func() drivers.Diagnosis {
		dg := drivers.Diagnosis{Checks: checks, OK: true}
		var warns int
		for _, c := range checks {
			switch c.Status {
			case drivers.CheckFail:
				if dg.OK {
					dg.OK = false
					dg.Verdict = "cannot send: " + c.Name + " — " + c.Fix
				}
			case drivers.CheckWarn:
				warns++
			}
		}
		if dg.OK {
			dg.Verdict = "the phone can send"
			if warns > 0 {
				dg.Verdict += fmt.Sprintf(", with %d warning(s) to look at", warns)
			}
		}
		return dg
	}

	if f.serverErr != nil {
		fix := "start it as the smsgw user (`adb start-server`), or set adb.adb_path so smsgw starts it"
		if !errors.Is(f.serverErr, adbwire.ErrNoServer) {
			fix = "check adb.server points at an adb server"
		}
		add("adb server", drivers.CheckFail, f.serverErr.Error(), fix)
		return verdict()
	}
	add("adb server", drivers.CheckOK, fmt.Sprintf("%s, protocol %d", d.client.Addr(), f.serverVersion), "")

	switch f.state {
	case "device":
		add("phone", drivers.CheckOK, d.opts.Serial+" connected and authorised", "")
	case "":
		var seen []string
		for _, dv := range f.listed {
			seen = append(seen, dv.Serial+" ("+dv.State+")")
		}
		detail := "no device " + d.opts.Serial
		if len(seen) > 0 {
			detail += "; the server sees " + strings.Join(seen, ", ")
		}
		add("phone", drivers.CheckFail, detail,
			"plug the phone in with a data cable, enable USB debugging, and check adb.serial against `adb devices -l`")
		return verdict()
	case "unauthorized", "authorizing":
		add("phone", drivers.CheckFail, "not authorised",
			"unlock the phone and accept the USB debugging prompt (tick Always allow); keep adb.key_dir fixed so the key survives restarts")
		return verdict()
	default:
		add("phone", drivers.CheckFail, "state "+f.state,
			"unplug and replug the cable or run `adb reconnect offline`; try another cable or port")
		return verdict()
	}
	if f.shellErr != nil {
		add("shell", drivers.CheckFail, f.shellErr.Error(), "replug the phone; if it persists, reboot it")
		return verdict()
	}

	sdkDetail := fmt.Sprintf("Android SDK %d", f.sdk)
	if d.opts.Mode == ModeISMS {
		if _, err := ismsCommand(f.sdk, 0, "", "+1", "x"); err != nil {
			add("Android version", drivers.CheckFail, sdkDetail+": no isms layout", "use mode forward with a gateway app")
		} else {
			add("Android version", drivers.CheckWarn, sdkDetail+"; isms codes can differ on vendor builds",
				"send a test message to your own phone before relying on isms mode")
		}
	} else {
		add("Android version", drivers.CheckOK, sdkDetail, "")
	}
	if f.props["sys.boot_completed"] != "1" {
		add("boot", drivers.CheckFail, "still booting", "wait for the phone to finish starting")
	}

	if b := f.battery; b != nil {
		detail := fmt.Sprintf("%d%%, %s, %.1f °C", b.Percent(), b.StatusText(), float64(b.Temperature)/10)
		if len(b.Plugged) > 0 {
			detail += ", on " + strings.Join(b.Plugged, "+")
		}
		switch {
		case b.Faked:
			add("battery", drivers.CheckWarn, detail+" (values frozen by `dumpsys battery set`)", "run `adb shell dumpsys battery reset`")
		case b.Temperature >= hotBattery:
			add("battery", drivers.CheckWarn, detail, "move the phone somewhere cooler; a swollen battery is a fire risk")
		case b.Percent() < lowBattery && !b.Charging():
			add("battery", drivers.CheckWarn, detail, "use a charger that can power the phone over USB")
		default:
			add("battery", drivers.CheckOK, detail, "")
		}
	} else {
		add("battery", drivers.CheckWarn, "not reported", "")
	}

	sim := simState(f.props, d.opts.SIMSlot)
	if simUsable(sim) {
		add("SIM", drivers.CheckOK, fmt.Sprintf("slot %d %s", d.opts.SIMSlot, sim), "")
	} else {
		fix := "insert a SIM in slot " + fmt.Sprint(d.opts.SIMSlot)
		switch sim {
		case "PIN_REQUIRED", "PUK_REQUIRED":
			fix = "unlock the SIM on the phone, or remove its PIN"
		case "NETWORK_LOCKED":
			fix = "the phone is locked to another network"
		}
		add("SIM", drivers.CheckFail, fmt.Sprintf("slot %d %s", d.opts.SIMSlot, orUnknown(sim)), fix)
	}
	if op := operator(f.props, d.opts.SIMSlot); op != "" {
		add("operator", drivers.CheckOK, op, "")
	} else {
		add("operator", drivers.CheckWarn, "not registered", "check the SIM's subscription and coverage")
	}
	switch s := f.signal; {
	case s == nil:
		add("signal", drivers.CheckWarn, "not reported", "")
	case s.Level == 0:
		add("signal", drivers.CheckWarn, signalText(s), "move the phone or add an antenna-friendly spot (window, higher shelf)")
	default:
		add("signal", drivers.CheckOK, signalText(s), "")
	}
	if f.airplane != nil && *f.airplane {
		add("airplane mode", drivers.CheckFail, "on", "turn airplane mode off on the phone")
	}
	if f.freeOK {
		st := drivers.CheckOK
		if f.freeKiB < lowStorageKiB {
			st = drivers.CheckWarn
		}
		add("storage", st, fmt.Sprintf("%d MiB free on /data", f.freeKiB>>10), "free space on the phone; Android stops storing sent messages when full")
	}
	if d.opts.Mode == ModeForward {
		d.mu.Lock()
		port := d.forwardPort
		d.mu.Unlock()
		switch {
		case f.gatewayErr != nil:
			add("gateway app", drivers.CheckFail, f.gatewayErr.Error(),
				fmt.Sprintf("start the SMS gateway app on the phone and make it listen on port %d (adb.remote_port)", d.opts.RemotePort))
		case f.gatewayHealth != nil && f.gatewayHealth.State == drivers.StateDown:
			add("gateway app", drivers.CheckFail, "reachable through tcp:"+fmt.Sprint(port)+" but down: "+f.gatewayHealth.Detail, "open the gateway app and check its permissions")
		default:
			add("gateway app", drivers.CheckOK, fmt.Sprintf("reachable through 127.0.0.1:%d → phone port %d", port, d.opts.RemotePort), "")
		}
		if f.doze != nil {
			if *f.doze {
				add("Doze", drivers.CheckOK, d.opts.AppPackage+" whitelisted", "")
			} else {
				add("Doze", drivers.CheckWarn, d.opts.AppPackage+" not whitelisted",
					"run `adb shell dumpsys deviceidle whitelist +"+d.opts.AppPackage+"` so Android does not suspend the app")
			}
		}
	}
	if over, detail := d.overLimit(f); over {
		add("SMS limit", drivers.CheckWarn, detail,
			("lower this driver's pacing, or raise the limit: `adb shell settings put global sms_outgoing_check_max_count N`; over it Android shows an Allow dialog and sending stops"))
	} else {
		add("SMS limit", drivers.CheckOK, detail, "")
	}
	return verdict()
}

func signalText(s *Signal) string {
	var parts []string
	if s.Known {
		parts = append(parts, fmt.Sprintf("%d dBm", s.DBm))
	}
	if s.Tech != "" {
		parts = append(parts, strings.ToUpper(s.Tech))
	}
	if s.Level >= 0 {
		parts = append(parts, fmt.Sprintf("%d/4 bars", s.Level))
	}
	return strings.Join(parts, ", ")
}
